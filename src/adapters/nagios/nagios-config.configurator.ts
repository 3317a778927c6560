/**
 * MonitoringConfigurator: one `<host>.cfg` per VM in Nagios's config directory, over an SSH
 * session. A SIGHUP with an invalid configuration kills Nagios, so every change is verified
 * (the whole configuration) before the reload, and a change that does not verify is undone:
 * the previous file back, or the new one gone; Nagios keeps running on what it had.
 */
import path from 'node:path';
import { BadUserInputError } from '../../domain/errors';
import { sleep } from '../../domain/retry';
import type { MonitoringConfigurator, NagiosConfigTarget, NagiosProgramStatus } from '../../ports/monitoring.port';
import type { CommandResult } from '../../ports/remote-shell.port';
import { errorText, integrationError } from '../net/integration-error';
import { NagiosConfigFiles } from './nagios-config.files';

/** One file name, no directory part and no hidden file: what the broker names `<vm>.cfg`. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.cfg$/;

/** What of the verifier's output goes into an error: enough to see the problem, bounded. */
const MAX_VERIFY_SUMMARY = 1_000;

/**
 * The lines of `nagios -v` that name a problem (`Error: ...`, `Warning: ...`, `***> ...`, the
 * totals), or its last lines when none does; control characters out, bounded.
 */
export function verifierSummary(result: Pick<CommandResult, 'stdout' | 'stderr' | 'exitCode'>): string {
  const lines = `${result.stdout}\n${result.stderr}`
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const telling = lines.filter((l) => /^(error|warning)\b|^\*{3}>|^total (errors|warnings)/i.test(l));
  const chosen = (telling.length > 0 ? telling : lines.slice(-10)).join(' | ');
  const text = chosen || `exit code ${result.exitCode}, no output`;
  return text.length > MAX_VERIFY_SUMMARY ? `${text.slice(0, MAX_VERIFY_SUMMARY)}...` : text;
}

/** Changes to one Nagios at a time from this process: a broken file of one change must not fail another's verification. */
const queues = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

export class NagiosConfigurator implements MonitoringConfigurator {
  async putHostConfig(target: NagiosConfigTarget, fileName: string, content: string): Promise<void> {
    const file = this.pathOf(target, fileName);
    const files = new NagiosConfigFiles(target);
    await serialised(`${files.server}|${target.configDir}`, async () => {
      const previous = await files.read(file);
      await files.write(file, content);
      await this.verifyOrUndo(target, files, fileName, previous === null ? { remove: file } : { restore: file, content: previous }, 'with');
      await this.reload(target, files);
    });
  }

  async removeHostConfig(target: NagiosConfigTarget, fileName: string): Promise<void> {
    const file = this.pathOf(target, fileName);
    const files = new NagiosConfigFiles(target);
    await serialised(`${files.server}|${target.configDir}`, async () => {
      const previous = await files.read(file);
      // Absent already: still verify and reload, a previous attempt may have removed it without reloading.
      if (previous !== null) await files.remove(file);
      await this.verifyOrUndo(target, files, fileName, previous === null ? null : { restore: file, content: previous }, 'without');
      await this.reload(target, files);
    });
  }

  private pathOf(target: NagiosConfigTarget, fileName: string): string {
    if (!FILE_NAME.test(fileName)) throw new BadUserInputError('fileName', 'must be one file name ending in .cfg (letters, digits, _ . -)');
    if (!path.posix.isAbsolute(target.configDir) || target.configDir.includes('\0')) {
      throw new BadUserInputError('configDir', 'must be an absolute directory path');
    }
    return path.posix.join(target.configDir, fileName);
  }

  /**
   * Runs the verifier; when it does not pass (or cannot be run), undoes the change and throws
   * VERIFY_FAILED with what the verifier printed. Nothing is reloaded then.
   */
  private async verifyOrUndo(
    target: NagiosConfigTarget,
    files: NagiosConfigFiles,
    fileName: string,
    undo: { restore: string; content: Buffer } | { remove: string } | null,
    withOrWithout: 'with' | 'without',
  ): Promise<void> {
    let problem: string | null = null;
    let cause: unknown;
    try {
      const result = await target.session.run(target.verifyCommand, { timeoutMs: target.timeoutMs, sudo: target.sudo });
      if (result.exitCode !== 0) problem = verifierSummary(result);
    } catch (err) {
      problem = `the verifier could not be run: ${errorText(err)}`;
      cause = err;
    }
    if (problem === null) return;
    let undone: string;
    try {
      if (undo && 'restore' in undo) await files.write(undo.restore, undo.content);
      else if (undo) await files.remove(undo.remove);
      undone = undo ? ('restore' in undo ? 'the previous file was restored' : 'the new file was removed') : 'nothing was changed';
    } catch (err) {
      undone = `undoing the change failed too (${errorText(err)}): Nagios must not be reloaded until the directory is fixed`;
    }
    throw integrationError(
      files.server,
      'VERIFY_FAILED',
      `the Nagios configuration does not verify ${withOrWithout} ${fileName}; ${undone} and Nagios was not reloaded. ${target.verifyCommand[0] ?? 'the verifier'} said: ${problem}`,
      { cause },
    );
  }

  /**
   * SIGHUP to the PID in the PID file: Nagios re-reads its (verified) configuration in the same
   * process. With `programStatus`, returns once Nagios reports the restart (see NagiosConfigTarget).
   */
  private async reload(target: NagiosConfigTarget, files: NagiosConfigFiles): Promise<void> {
    let before: NagiosProgramStatus | null = null;
    if (target.programStatus) {
      before = await target.programStatus();
      // program_start has second resolution: a restart within the second of the last would not show.
      const sinceStart = before.now - before.programStart;
      if (sinceStart < 1100) await sleep(1100 - Math.max(0, sinceStart));
    }
    await this.hangUp(target, files);
    if (!target.programStatus || !before) return;
    const deadline = Date.now() + target.timeoutMs;
    for (;;) {
      await sleep(250);
      const now = await target.programStatus().catch(() => null);
      if (now && now.programStart > before.programStart) return;
      if (Date.now() > deadline) {
        throw integrationError(files.server, 'OPERATION_FAILED', `Nagios did not report a restart within ${Math.round(target.timeoutMs / 1000)} s of its SIGHUP: is it still running? (its log says why it stopped)`, {
          retryable: true,
        });
      }
    }
  }

  private async hangUp(target: NagiosConfigTarget, files: NagiosConfigFiles): Promise<void> {
    const raw = await files.read(target.pidFile);
    const pid = raw?.toString('utf8').trim() ?? '';
    if (!/^[1-9][0-9]{0,9}$/.test(pid)) {
      throw integrationError(files.server, 'OPERATION_FAILED', raw === null ? `no PID file ${target.pidFile}: is Nagios running?` : `the PID file ${target.pidFile} holds no process id`);
    }
    const result = await target.session.run(['kill', '-HUP', pid], { timeoutMs: target.timeoutMs, sudo: target.sudo });
    if (result.exitCode !== 0) {
      throw integrationError(files.server, 'OPERATION_FAILED', `kill -HUP ${pid} (from ${target.pidFile}) failed: ${verifierSummary(result)}`);
    }
  }
}
