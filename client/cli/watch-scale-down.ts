/**
 * Following a scale-down job to its end: one line per phase change and drain reading (one JSON
 * object per event with --json), the phase durations at the end; exit 0 on DONE, 1 on FAILED or
 * CANCELLED. Ctrl-C detaches (exit 130): the job goes on, and the API has no cancel for it.
 */
import { IntercloudError, ScaleDownJobDocument, ScaleDownJobEvent, ScaleDownJobFieldsFragment } from '../sdk';
import { CliContext } from './context';
import { Exit } from './errors';
import { duration } from './format';

const END_KINDS = new Set(['DONE', 'FAILED', 'CANCELLED']);

export async function watchScaleDownJob(ctx: CliContext, jobId: string): Promise<number> {
  const { out, client } = ctx;
  const first = (await client.request(ScaleDownJobDocument, { id: jobId })).scaleDownJob;
  if (!first) throw new IntercloudError(`scale-down job ${jobId} not found`, 'NOT_FOUND');
  out.record({ job: first });
  out.line(`Scale-down job ${first.id}: ${vmLabel(first)}`);

  const onEvent = (e: ScaleDownJobEvent) => {
    out.record({ event: e });
    const tag = out.paint(`[${e.phase}]`, 'cyan');
    const detail = e.message ? `: ${e.message}` : '';
    switch (e.kind) {
      case 'PHASE_STARTED':
        return out.line(`${tag} started${detail}`);
      case 'PHASE_COMPLETED':
        return out.line(`${tag} ${out.paint('completed', 'green')}${detail}`);
      case 'PROGRESS':
        return out.line(`${tag}${e.drainValue !== null ? ` drain metric reads ${e.drainValue}` : ''}${e.message ? ` ${e.message}` : ''}`);
      default:
        return out.line(`${out.paint(`[${e.kind}]`, e.kind === 'DONE' ? 'green' : 'red')}${e.message ? ` ${e.message}` : ''}`);
    }
  };

  const outcome = await new Promise<{ end: 'ended' | 'detached' } | { end: 'error'; err: IntercloudError }>((resolve) => {
    const stop = client.scaleDownJobEvents(jobId, {
      next: (e) => {
        onEvent(e);
        if (END_KINDS.has(e.kind)) finish({ end: 'ended' });
      },
      error: (err) => finish({ end: 'error', err }),
      complete: () => finish({ end: 'ended' }),
    });
    const onSigint = () => finish({ end: 'detached' });
    process.on('SIGINT', onSigint);
    function finish(r: { end: 'ended' | 'detached' } | { end: 'error'; err: IntercloudError }) {
      process.off('SIGINT', onSigint);
      stop();
      resolve(r);
    }
  });

  if (outcome.end === 'error') throw outcome.err;
  if (outcome.end === 'detached') {
    out.note(`Detached from scale-down job ${jobId}; it goes on. Watch it again: intercloud scale-down-jobs watch ${jobId}`);
    out.record({ detached: true, jobId });
    return Exit.INTERRUPTED;
  }
  const job = (await client.request(ScaleDownJobDocument, { id: jobId })).scaleDownJob!;
  out.record({ job });
  scaleDownSummary(ctx, job);
  return job.state === 'DONE' ? Exit.OK : Exit.FAILED;
}

export function vmLabel(job: Pick<ScaleDownJobFieldsFragment, 'vm'>): string {
  return job.vm ? `${job.vm.name} (${job.vm.cloud?.name ?? '?'})` : '?';
}

export function scaleDownPhaseRows(job: Pick<ScaleDownJobFieldsFragment, 'phases'>): string[][] {
  return job.phases.map((p) => [p.phase, p.durationMs === null ? 'running' : duration(p.durationMs)]);
}

function scaleDownSummary(ctx: CliContext, job: ScaleDownJobFieldsFragment): void {
  const { out } = ctx;
  const total = job.finishedAt ? Date.parse(job.finishedAt) - Date.parse(job.createdAt) : null;
  if (job.phases.length > 0) out.table(['PHASE', 'DURATION'], [...scaleDownPhaseRows(job), ['total', duration(total)]]);
  if (job.state === 'DONE') {
    out.line(out.paint(`Scale-down DONE: VM ${job.vm?.name ?? '?'} (${job.vm?.id ?? '?'}) removed from ${job.vm?.cloud?.name ?? '?'}.`, 'green'));
    return;
  }
  const why = job.error ? `${job.error.code}: ${job.error.message}` : 'no error recorded';
  out.error(`scale-down job ${job.id} ${job.state}: ${why}`, { jobId: job.id, state: job.state, code: job.error?.code ?? null });
}
