/** `intercloud login`: check a token against the broker and save it in a profile. */
import { Command } from 'commander';
import readline from 'node:readline';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { IntercloudClient, MeDocument } from '../../sdk';
import { configPath, profileName, readConfig, writeConfig } from '../config';
import { leaf } from '../command';
import { usage } from '../errors';
import { Output } from '../output';

/** The token from --token, INTERCLOUD_TOKEN, a hidden prompt on a terminal, or the first line of stdin. */
async function readToken(flag: string | undefined): Promise<string> {
  if (flag) return flag;
  if (process.env.INTERCLOUD_TOKEN) return process.env.INTERCLOUD_TOKEN;
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  const tty = !!process.stdin.isTTY;
  if (tty) process.stderr.write('API token: ');
  const rl = readline.createInterface({ input: process.stdin, output: tty ? muted : undefined, terminal: tty });
  try {
    const line = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    if (tty) process.stderr.write('\n');
    return line.trim();
  } finally {
    rl.close();
  }
}

export function loginCommand(): Command {
  return leaf(
    new Command('login')
      .description('check an API token against a broker and save both in a profile of ~/.config/intercloud/config.json (mode 0600)')
      .requiredOption('--url <url>', 'broker URL, e.g. http://localhost:4000')
      .option('--token <token>', 'API token (default: INTERCLOUD_TOKEN, else asked for without echo)'),
    'intercloud login --url http://localhost:4000\nintercloud login --profile partner-b --url https://broker.example.net --token "$TOKEN"',
  ).action(async (opts: { url: string; token?: string }, cmd: Command) => {
    const globals = cmd.optsWithGlobals<{ profile?: string; json?: boolean }>();
    const out = new Output(!!globals.json);
    let url: URL;
    try {
      url = new URL(opts.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw usage(`--url must be an http:// or https:// URL, not "${opts.url}"`);
    }
    const token = await readToken(opts.token);
    if (!token) throw usage('no token given (--token, INTERCLOUD_TOKEN or the prompt)');
    const client = new IntercloudClient({ url: url.toString(), token, webSocketImpl: WebSocket });
    const { me } = await client.request(MeDocument);
    const file = configPath();
    const config = readConfig(file);
    const profile = profileName(globals.profile, config);
    config.profiles[profile] = { url: client.url, token };
    config.currentProfile = profile;
    writeConfig(config, file);
    out.result({ profile, url: client.url, config: file, me });
    out.line(`Logged in to ${client.url} as ${me.tokenName} (${me.role}) of tenant ${me.tenantName}.`);
    out.line(`Profile "${profile}" saved in ${file}.`);
  });
}
