/**
 * `intercloud`: the broker's command line. Exit codes: 0 success, 1 the operation failed (a clone
 * FAILED or CANCELLED, the broker refused or was unreachable), 2 bad usage, 3 authentication,
 * 130 Ctrl-C detached from a watch.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { IntercloudError } from '../sdk';
import { applyCommand } from './commands/apply';
import { cloudsCommand } from './commands/clouds';
import { cloneCommand, jobsCommand } from './commands/jobs';
import { loginCommand } from './commands/login';
import { loadBalancersCommand, monitoringServersCommand, sshKeysCommand } from './commands/integrations';
import { scaleDownJobsCommand } from './commands/scale-down';
import { decisionsCommand, samplesCommand } from './commands/scaling';
import { standbyCommand } from './commands/standby';
import { matchmakeCommand, vmsCommand, vmTypesCommand } from './commands/vms';
import { CliError, Exit, exitCodeOf } from './errors';
import { Output } from './output';

/** From dist/client/cli the package is three levels up, from the sources two. */
function packageVersion(): string {
  const up = __dirname.split(path.sep).includes('dist') ? '../../..' : '../..';
  return (JSON.parse(fs.readFileSync(path.join(__dirname, up, 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('intercloud')
    .description('Command line of the Intercloud broker: clouds, VM types, clones, scale-downs, scaling decisions and the SIP integrations.')
    .version(packageVersion())
    .option('--profile <name>', 'profile of ~/.config/intercloud/config.json to use (default: INTERCLOUD_PROFILE, else the last one logged in with)')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Environment: INTERCLOUD_URL and INTERCLOUD_TOKEN override the profile; NO_COLOR turns colours off.
Exit codes: 0 ok, 1 failed (clone FAILED/CANCELLED, broker error), 2 bad usage, 3 auth, 130 detached.

Example:
  intercloud login --url http://localhost:4000
  intercloud clouds register -f clouds.yaml
  intercloud apply -f opensips.yaml
  intercloud vms import --cloud home --server sip-1 --vm-type opensips
  intercloud clone sip-1 --to partner-b --watch`,
    );
  for (const c of [loginCommand(), cloudsCommand(), applyCommand(), vmTypesCommand(), vmsCommand(), matchmakeCommand(), cloneCommand(), jobsCommand(), standbyCommand(), scaleDownJobsCommand(), decisionsCommand(), samplesCommand(), sshKeysCommand(), monitoringServersCommand(), loadBalancersCommand()]) {
    program.addCommand(c);
  }
  // Every level exits through the handler below (code 2 for usage errors), never process.exit.
  const override = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `intercloud ... | head`: a reader that has gone is no error; stop quietly (a watched job goes on).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? Exit.OK : Exit.FAILED));
  }
  const json = argv.includes('--json');
  const out = new Output(json);
  let code: number;
  try {
    await buildProgram().parseAsync(argv);
    code = typeof process.exitCode === 'number' ? process.exitCode : Exit.OK;
  } catch (err) {
    code = report(out, err);
  }
  process.exit(code);
}

function report(out: Output, err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and --version "fail" with exit code 0; commander has printed what it had to.
    return err.exitCode === 0 ? Exit.OK : Exit.USAGE;
  }
  if (err instanceof CliError) {
    out.error(err.message, { exitCode: err.exitCode, ...err.details });
    return err.exitCode;
  }
  if (err instanceof IntercloudError) {
    out.error(err.field ? `${err.message} (${err.code}, field ${err.field})` : `${err.message} (${err.code})`, { code: err.code, field: err.field, rule: err.rule });
    return exitCodeOf(err);
  }
  out.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return Exit.FAILED;
}
