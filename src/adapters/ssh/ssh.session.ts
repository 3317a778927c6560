/**
 * One authenticated SSH connection: commands as argument vectors (quoted by quoteArgv only),
 * files over SFTP (written to a temporary file beside the target, then renamed over it), every
 * operation bounded in time and failed, not left hanging, when the connection drops.
 */
import { randomBytes } from 'node:crypto';
import { constants as os } from 'node:os';
import path from 'node:path';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { DomainError } from '../../domain/errors';
import type { CommandResult, RemoteSession, RunOptions } from '../../ports/remote-shell.port';
import { connectionError, errorText, integrationError } from '../net/integration-error';
import { quoteArgv } from './quote-argv';

/** Output kept per stream: enough for any verifier or status command, bounded against a runaway one. */
export const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** How long after our deadline the remote `timeout` stops a command (TERM), and after that KILLs it. */
const REMOTE_KILL_GRACE_S = 5;

const SFTP_NO_SUCH_FILE = 2;
const CHUNK = 32 * 1024;

class Collector {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  add(chunk: Buffer): void {
    const room = MAX_OUTPUT_BYTES - this.size;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
    this.dropped += chunk.length - kept.length;
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `${text}\n[${this.dropped} more bytes not kept]` : text;
  }
}

/** The program an argument vector runs, for messages: never the arguments, which may carry values a tenant considers private. */
function programOf(argv: readonly string[]): string {
  return path.posix.basename(argv[0] ?? '').slice(0, 80) || '(empty)';
}

export class SshSession implements RemoteSession {
  private sftpChannel: Promise<SFTPWrapper> | null = null;
  private closedBy: Error | null = null;
  private closedByUs = false;
  private readonly onClose = new Set<(err: Error) => void>();

  constructor(
    private readonly client: Client,
    /** `SSH user@host:port`, as every error of this session begins. */
    readonly label: string,
    private readonly transferTimeoutMs: number,
    private readonly killRemoteOnTimeout: boolean,
  ) {
    client.on('error', (err) => {
      this.closedBy ??= err;
    });
    client.on('close', () => {
      const err = this.closedBy ?? Object.assign(new Error('the connection closed'), { code: 'ECONNRESET' });
      this.closedBy = err;
      for (const reject of this.onClose) reject(err);
      this.onClose.clear();
    });
  }

  async run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    const command = quoteArgv([...this.remoteDeadline(options.timeoutMs), ...(options.sudo ? ['sudo', '-n', '--'] : []), ...argv]);
    const program = programOf(argv);
    return this.guarded(`\`${program}\``, options.timeoutMs, (settle) => {
      this.client.exec(command, (err, stream) => {
        if (err) return settle.fail(integrationError(this.label, 'OPERATION_FAILED', `could not start \`${program}\`: ${errorText(err)}`, { cause: err }));
        settle.onTimeout(() => {
          // Where sshd honours signal requests (not for root sessions) this ends the command now;
          // elsewhere the remote `timeout` does, a little later.
          try {
            stream.signal('KILL');
          } catch {
            /* the channel is going anyway */
          }
          stream.close();
        });
        this.collect(stream, program, settle);
        if (options.stdin !== undefined) stream.end(options.stdin);
        else stream.end();
      });
    });
  }

  async writeFile(file: string, content: string | Buffer, mode: number): Promise<void> {
    checkPath(file);
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const dir = path.posix.dirname(file);
    const temp = path.posix.join(dir, `.${path.posix.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    const sftp = await this.sftp();
    try {
      await this.transfer(`writing ${file}`, async () => {
        const handle = await call<Buffer>((cb) => sftp.open(temp, 'wx', { mode }, cb));
        try {
          for (let offset = 0; offset < data.length; offset += CHUNK) {
            const length = Math.min(CHUNK, data.length - offset);
            await call<void>((cb) => sftp.write(handle, data, offset, length, offset, (e) => cb(e)));
          }
          // The mode exactly (open's mode passes the server's umask); on disk before the rename.
          await call<void>((cb) => sftp.fchmod(handle, mode, (e) => cb(e)));
          await call<void>((cb) => sftp.ext_openssh_fsync(handle, (e) => cb(e))).catch(() => undefined);
        } finally {
          await call<void>((cb) => sftp.close(handle, (e) => cb(e))).catch(() => undefined);
        }
        await this.renameOver(sftp, temp, file);
      });
    } catch (err) {
      await call<void>((cb) => sftp.unlink(temp, (e) => cb(e))).catch(() => undefined);
      throw err;
    }
  }

  async readFile(file: string): Promise<Buffer | null> {
    checkPath(file);
    const sftp = await this.sftp();
    return this.transfer(`reading ${file}`, async () => {
      try {
        return await call<Buffer>((cb) => sftp.readFile(file, (e: Error | null | undefined, data: Buffer) => cb(e, data)));
      } catch (err) {
        if ((err as { code?: unknown }).code === SFTP_NO_SUCH_FILE) return null;
        throw err;
      }
    });
  }

  async removeFile(file: string): Promise<void> {
    checkPath(file);
    const sftp = await this.sftp();
    await this.transfer(`removing ${file}`, async () => {
      try {
        await call<void>((cb) => sftp.unlink(file, (e) => cb(e)));
      } catch (err) {
        if ((err as { code?: unknown }).code !== SFTP_NO_SUCH_FILE) throw err;
      }
    });
  }

  /**
   * `timeout -k 5 <s>` before the command: closing an SSH channel does not stop a command that
   * neither reads nor writes (and OpenSSH refuses signal requests to root sessions), so the
   * remote side bounds it itself, a few seconds after our own deadline so that ours is the one
   * reported: TERM, then KILL 5 s later. GNU timeout (coreutils, on any Linux distribution)
   * signals the command's whole process group and leaves exit codes (127 for a missing program)
   * as they are. It goes before `sudo`, so a sudoers rule naming the real command still matches;
   * sudo passes the TERM on to the command.
   */
  private remoteDeadline(timeoutMs: number): string[] {
    if (!this.killRemoteOnTimeout) return [];
    return ['timeout', '-k', String(REMOTE_KILL_GRACE_S), String(Math.ceil(timeoutMs / 1000) + REMOTE_KILL_GRACE_S)];
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    if (this.closedBy) return;
    await new Promise<void>((resolve) => {
      const guard = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 5_000);
      this.client.once('close', () => {
        clearTimeout(guard);
        resolve();
      });
      this.client.end();
    });
  }

  /** posix-rename@openssh.com replaces the target atomically; plain SFTP rename refuses an existing target. */
  private async renameOver(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    try {
      await call<void>((cb) => sftp.ext_openssh_rename(from, to, (e) => cb(e)));
    } catch (err) {
      if (!/does not support/i.test(errorText(err))) throw err;
      await call<void>((cb) => sftp.unlink(to, (e) => cb(e))).catch(() => undefined);
      await call<void>((cb) => sftp.rename(from, to, (e) => cb(e)));
    }
  }

  private collect(stream: ClientChannel, program: string, settle: Settle<CommandResult>): void {
    const stdout = new Collector();
    const stderr = new Collector();
    let exit: number | null = null;
    stream.on('data', (chunk: Buffer) => stdout.add(chunk));
    stream.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
    stream.on('exit', (code: number | null, signal?: string) => {
      if (typeof code === 'number') exit = code;
      // As a shell reports it: 128 + the signal's number.
      else if (signal) exit = 128 + ((os.signals as Record<string, number>)[`SIG${signal}`] ?? 0);
    });
    stream.on('close', () => {
      if (exit === null) {
        settle.fail(integrationError(this.label, 'OPERATION_FAILED', `\`${program}\` ended without an exit status (the connection may have dropped)`));
      } else {
        settle.done({ exitCode: exit, stdout: stdout.text(), stderr: stderr.text() });
      }
    });
  }

  /** Why nothing more can be done on this session, or null. */
  private gone(): Error | null {
    if (this.closedByUs) return integrationError(this.label, 'OPERATION_FAILED', 'the session was closed');
    return this.closedBy ? connectionError(this.label, this.closedBy) : null;
  }

  private sftp(): Promise<SFTPWrapper> {
    const gone = this.gone();
    if (gone) return Promise.reject(gone);
    this.sftpChannel ??= this.guarded('opening SFTP', this.transferTimeoutMs, (settle) => {
      this.client.sftp((err, sftp) => {
        if (err) return settle.fail(integrationError(this.label, 'OPERATION_FAILED', `the server offers no SFTP: ${errorText(err)}`, { cause: err }));
        sftp.on('close', () => {
          this.sftpChannel = null;
        });
        // Opened after its timeout: nobody will use it.
        if (!settle.done(sftp)) sftp.end();
      });
    });
    this.sftpChannel.catch(() => {
      this.sftpChannel = null;
    });
    return this.sftpChannel;
  }

  /** An SFTP operation under the transfer timeout, its failure named. */
  private transfer<T>(what: string, work: () => Promise<T>): Promise<T> {
    return this.guarded(what, this.transferTimeoutMs, (settle) => {
      settle.onTimeout(() => {
        // Abandoned requests would answer a later caller's: start over with a fresh channel.
        void this.sftpChannel?.then((sftp) => sftp.end()).catch(() => undefined);
        this.sftpChannel = null;
      });
      work().then(settle.done, (err: unknown) =>
        settle.fail(
          err instanceof DomainError
            ? err
            : integrationError(this.label, 'OPERATION_FAILED', `SFTP ${what} failed: ${sftpProblem(err)}`, { detail: errorText(err), cause: err }),
        ),
      );
    });
  }

  /**
   * Runs `start` with a deadline, and fails it at once when the connection closes; whatever
   * settles first wins, later callbacks are ignored.
   */
  private guarded<T>(what: string, timeoutMs: number, start: (settle: Settle<T>) => void): Promise<T> {
    const gone = this.gone();
    if (gone) return Promise.reject(gone);
    return new Promise<T>((resolve, reject) => {
      let finished = false;
      let onTimeout: (() => void) | null = null;
      const finish = (): boolean => {
        if (finished) return false;
        finished = true;
        clearTimeout(timer);
        this.onClose.delete(lost);
        return true;
      };
      const lost = (err: Error): void => {
        if (finish()) reject(connectionError(this.label, err));
      };
      const timer = setTimeout(() => {
        if (!finish()) return;
        onTimeout?.();
        reject(integrationError(this.label, 'TIMEOUT', `${what} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      this.onClose.add(lost);
      start({
        done: (value) => {
          if (!finish()) return false;
          resolve(value);
          return true;
        },
        fail: (err) => {
          if (finish()) reject(err);
        },
        onTimeout: (fn) => {
          onTimeout = fn;
        },
      });
    });
  }
}

interface Settle<T> {
  /** False when the operation had already failed (timed out, connection lost). */
  done(value: T): boolean;
  fail(err: Error): void;
  onTimeout(fn: () => void): void;
}

function call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

function checkPath(file: string): void {
  if (!file || file.includes('\0')) throw new Error(`"${file.replace(/\0/g, '\\0')}" is not a usable remote path`);
}

/** SFTP status codes in words (ssh2 gives the server's message, sometimes only the code). */
function sftpProblem(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const words: Record<number, string> = { 2: 'no such file or directory', 3: 'permission denied', 4: 'failure' };
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && message ? message : typeof code === 'number' ? (words[code] ?? `status ${code}`) : errorText(err);
}
