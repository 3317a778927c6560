/**
 * Files of a Nagios configuration directory over an SSH session. As the login user they go over
 * SFTP; with `sudo` (a directory only root may write) they go through fixed `sudo -n sh -c`
 * scripts that take the path as a positional argument and the content on stdin, so neither is
 * ever part of a command string. Either way a write is a temporary file renamed over the target.
 */
import type { NagiosConfigTarget } from '../../ports/monitoring.port';
import { integrationError } from '../net/integration-error';

/** Prints the file, or exits 3 when it does not exist (so "missing" is not mistaken for "unreadable"). */
const READ = 'if [ -e "$1" ]; then exec cat -- "$1"; else exit 3; fi';
/** Content from stdin to a temporary file beside the target, mode set, then renamed over it. */
const WRITE = 't="$1.intercloud.$$.tmp"; if cat > "$t" && chmod "$2" "$t" && mv -f -- "$t" "$1"; then exit 0; fi; rm -f -- "$t"; exit 1';
const MODE = 0o644;

export class NagiosConfigFiles {
  /** How errors name where the configuration lives. */
  readonly server: string;

  constructor(private readonly target: NagiosConfigTarget) {
    this.server = `Nagios configuration via ${target.session.label ?? 'SSH'}`;
  }

  async read(file: string): Promise<Buffer | null> {
    if (!this.target.sudo) return this.target.session.readFile(file);
    const result = await this.sudoSh(READ, [file]);
    if (result.exitCode === 3) return null;
    if (result.exitCode !== 0) throw this.failed('reading', file, result.stderr);
    return Buffer.from(result.stdout, 'utf8');
  }

  async write(file: string, content: string | Buffer): Promise<void> {
    if (!this.target.sudo) return this.target.session.writeFile(file, content, MODE);
    const result = await this.sudoSh(WRITE, [file, MODE.toString(8)], content);
    if (result.exitCode !== 0) throw this.failed('writing', file, result.stderr);
  }

  async remove(file: string): Promise<void> {
    if (!this.target.sudo) return this.target.session.removeFile(file);
    const result = await this.target.session.run(['rm', '-f', '--', file], { timeoutMs: this.target.timeoutMs, sudo: true });
    if (result.exitCode !== 0) throw this.failed('removing', file, result.stderr);
  }

  private sudoSh(script: string, args: string[], stdin?: string | Buffer) {
    // `sh -c SCRIPT sh ARG...`: the arguments are $1, $2 inside the script, never parsed as shell text.
    return this.target.session.run(['sh', '-c', script, 'sh', ...args], { timeoutMs: this.target.timeoutMs, sudo: true, ...(stdin !== undefined ? { stdin } : {}) });
  }

  private failed(what: string, file: string, stderr: string) {
    // eslint-disable-next-line no-control-regex
    const said = stderr.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 300);
    return integrationError(this.server, 'OPERATION_FAILED', `${what} ${file} under sudo failed${said ? `: ${said}` : ''}`);
  }
}
