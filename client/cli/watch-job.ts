/**
 * Following a clone job to its end: per-phase lines, a bar with bytes, rate and ETA during
 * TRANSFER on a terminal (line-wise progress without one, one JSON object per event with --json),
 * phase durations at the end. Ctrl-C detaches (the job goes on) unless cancelOnInterrupt, which
 * cancels the job and waits for its undo; a second Ctrl-C detaches anyway.
 */
import cliProgress from 'cli-progress';
import { CancelCloneJobDocument, CloneJobDocument, CloneJobFieldsFragment, CloneJobEvent, IntercloudError } from '../sdk';
import { CliContext } from './context';
import { Exit } from './errors';
import { bytes, duration, percent, rate, seconds } from './format';

const END_KINDS = new Set(['DONE', 'FAILED', 'CANCELLED']);
/** Without a terminal, a progress line at most this often (and at the end of the transfer). */
const LINE_INTERVAL_MS = 1000;

export interface WatchOptions {
  cancelOnInterrupt?: boolean;
}

export async function watchJob(ctx: CliContext, jobId: string, o: WatchOptions): Promise<number> {
  const { out, client } = ctx;
  const first = (await client.request(CloneJobDocument, { id: jobId })).cloneJob;
  if (!first) throw new IntercloudError(`clone job ${jobId} not found`, 'NOT_FOUND');
  out.record({ job: first });
  out.line(`Clone job ${first.id}: ${first.sourceVm?.name ?? '?'} (${first.sourceCloud?.name ?? '?'}) -> ${first.targetCloud?.name ?? '?'} as ${first.name}`);

  let bar: cliProgress.SingleBar | null = null;
  let lastLine = 0;
  const stopBar = () => {
    bar?.stop();
    bar = null;
  };
  const say = (text: string) => {
    if (bar) stopBar();
    out.line(text);
  };

  const onEvent = (e: CloneJobEvent) => {
    out.record({ event: e });
    if (out.json) return;
    const tag = out.paint(`[${e.phase}]`, 'cyan');
    switch (e.kind) {
      case 'PHASE_STARTED':
        return say(`${tag} started${e.message ? `: ${e.message}` : ''}`);
      case 'PHASE_COMPLETED':
        return say(`${tag} ${out.paint('completed', 'green')}${e.message ? `: ${e.message}` : ''}`);
      case 'PROGRESS': {
        if (e.bytesTransferred === null) return say(`${tag} ${e.message ?? ''}`.trimEnd());
        const total = e.bytesTotal ?? 0;
        if (out.tty) {
          if (!bar) {
            bar = new cliProgress.SingleBar(
              { format: `${e.phase} [{bar}] {percentage}% | {done} / {all} | {speed} | ETA {left}`, hideCursor: true, clearOnComplete: false, stream: process.stdout },
              cliProgress.Presets.shades_classic,
            );
            bar.start(total || 1, 0, { done: '-', all: '-', speed: '-', left: '-' });
          }
          bar.setTotal(total || 1);
          bar.update(e.bytesTransferred, { done: bytes(e.bytesTransferred), all: bytes(e.bytesTotal), speed: rate(e.bytesPerSecond), left: seconds(e.etaSeconds) });
          return;
        }
        const now = Date.now();
        if (now - lastLine < LINE_INTERVAL_MS && e.bytesTransferred !== e.bytesTotal) return;
        lastLine = now;
        return out.line(`${tag} ${bytes(e.bytesTransferred)} / ${bytes(e.bytesTotal)} (${percent(e.bytesTransferred, e.bytesTotal)}) at ${rate(e.bytesPerSecond)}, ETA ${seconds(e.etaSeconds)}`);
      }
      default:
        return say(`${out.paint(`[${e.kind}]`, e.kind === 'DONE' ? 'green' : 'red')}${e.message ? ` ${e.message}` : ''}`);
    }
  };

  let interrupts = 0;
  let cancelling = false;
  const outcome = await new Promise<{ end: 'ended' | 'detached' } | { end: 'error'; err: IntercloudError }>((resolve) => {
    const stop = client.cloneJobEvents(jobId, {
      next: (e) => {
        onEvent(e);
        if (END_KINDS.has(e.kind)) finish({ end: 'ended' });
      },
      error: (err) => finish({ end: 'error', err }),
      complete: () => finish({ end: 'ended' }),
    });
    const onSigint = () => {
      interrupts++;
      if (o.cancelOnInterrupt && interrupts === 1) {
        cancelling = true;
        out.note(`cancelling clone job ${jobId} (Ctrl-C again to stop watching)...`);
        client.request(CancelCloneJobDocument, { id: jobId }).catch((err: unknown) => finish({ end: 'error', err: err as IntercloudError }));
        return;
      }
      finish({ end: 'detached' });
    };
    process.on('SIGINT', onSigint);
    function finish(r: { end: 'ended' | 'detached' } | { end: 'error'; err: IntercloudError }) {
      process.off('SIGINT', onSigint);
      stop();
      resolve(r);
    }
  });
  stopBar();

  if (outcome.end === 'error') throw outcome.err;
  if (outcome.end === 'detached') {
    out.note(`Detached from clone job ${jobId}; it goes on. Watch it again: intercloud jobs watch ${jobId}`);
    out.record({ detached: true, jobId });
    return Exit.INTERRUPTED;
  }
  const job = (await client.request(CloneJobDocument, { id: jobId })).cloneJob!;
  out.record({ job });
  summary(ctx, job, cancelling);
  return job.state === 'DONE' ? Exit.OK : Exit.FAILED;
}

export function phaseRows(job: CloneJobFieldsFragment): string[][] {
  return job.phases.map((p) => [p.phase, p.durationMs === null ? 'running' : duration(p.durationMs)]);
}

function summary(ctx: CliContext, job: CloneJobFieldsFragment, cancelled: boolean): void {
  const { out } = ctx;
  if (job.phases.length > 0) out.table(['PHASE', 'DURATION'], [...phaseRows(job), ['total', duration(job.finishedAt ? Date.parse(job.finishedAt) - Date.parse(job.createdAt) : null)]]);
  if (job.state === 'DONE') {
    const addr = job.resultVm?.addresses.map((a) => `${a.address} (${a.kind})`).join(', ');
    out.line(out.paint(`Clone DONE: VM ${job.resultVm?.name ?? job.name} (${job.resultVm?.id ?? '?'}) in ${job.targetCloud?.name ?? '?'}${addr ? ` at ${addr}` : ''}.`, 'green'));
    return;
  }
  const why = job.error ? `${job.error.code}: ${job.error.message}` : cancelled ? 'cancelled on request' : 'no error recorded';
  out.error(`clone job ${job.id} ${job.state}: ${why}`, { jobId: job.id, state: job.state, code: job.error?.code ?? null });
}
