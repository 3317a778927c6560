/** One clone job: phase timeline with durations, live transfer progress, the event log, cancel. */
import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { CancelCloneJobDocument, CloneJobDocument, CloneJobEvent, CloneJobFieldsFragment, ClonePhase, IntercloudError } from '../../../sdk';
import { bytes, duration, percent, rate, seconds, time } from '../../../cli/format';
import { api, handleAuth, useQuery } from '../api';
import { Badge, ErrorNote, Loading, TableWrap, TERMINAL, useTitle } from '../components/common';

const PIPELINE: ClonePhase[] = ['QUEUED', 'SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK', 'CONFIGURE', 'MONITORING', 'LOAD_BALANCER'];

function Timeline({ job, events }: { job: CloneJobFieldsFragment; events: CloneJobEvent[] }) {
  const timing = new Map(job.phases.map((p) => [p.phase, p]));
  const seen = new Set<ClonePhase>(events.map((e) => e.phase));
  const intra = job.sourceCloud?.id === job.targetCloud?.id;
  // Phases this job runs: what it ran, plus what the pipeline does next (CONFIGURE and later only when they happen).
  const phases = PIPELINE.filter((p) => timing.has(p) || seen.has(p) || (['SNAPSHOT', 'BOOT', 'NETWORK'] as ClonePhase[]).includes(p) || (!intra && (['TRANSFER', 'IMPORT'] as ClonePhase[]).includes(p)));
  const queued = events.find((e) => e.phase === 'QUEUED');
  const end = TERMINAL.has(job.state) ? job.state : null;
  return (
    <ol class="timeline" aria-label="Phase timeline">
      {phases.map((p) => {
        const t = timing.get(p);
        const status = p === 'QUEUED' ? (queued ? 'done' : 'pending') : t ? (t.finishedAt ? 'done' : end ? 'stopped' : 'running') : 'pending';
        const took = p === 'QUEUED' ? (job.phases[0] ? Date.parse(job.phases[0].startedAt) - Date.parse(job.createdAt) : null) : t?.durationMs;
        return (
          <li key={p} class={`step step-${status}`} aria-current={status === 'running' ? 'step' : undefined}>
            <span class="step-name">{p}</span>
            <span class="step-time">{status === 'done' ? duration(took) : status === 'running' ? 'running…' : status === 'stopped' ? 'stopped' : 'pending'}</span>
          </li>
        );
      })}
      <li class={`step step-end step-${end ? (end === 'DONE' ? 'done' : 'failed') : 'pending'}`}>
        <span class="step-name">{end ?? 'DONE'}</span>
        <span class="step-time">{end && job.finishedAt ? `total ${duration(Date.parse(job.finishedAt) - Date.parse(job.createdAt))}` : 'pending'}</span>
      </li>
    </ol>
  );
}

function Progress({ job, last }: { job: CloneJobFieldsFragment; last: CloneJobEvent | null }) {
  const total = last?.bytesTotal ?? job.bytesTotal;
  const done = last?.bytesTransferred ?? job.bytesTransferred;
  if (!total) return <p class="muted">The image size is known once the snapshot is taken.</p>;
  return (
    <div class="progress">
      <label for="transfer-progress">Transfer</label>
      <progress id="transfer-progress" max={total} value={done ?? 0} />
      <p class="small" aria-live="off">
        {bytes(done)} of {bytes(total)} ({percent(done, total)}){last?.bytesPerSecond ? ` · ${rate(last.bytesPerSecond)}` : ''}
        {last?.etaSeconds !== null && last?.etaSeconds !== undefined && done !== total ? ` · ETA ${seconds(last.etaSeconds)}` : ''}
      </p>
    </div>
  );
}

export function CloneJobPage() {
  const { params } = useRoute();
  const id = params.id;
  useTitle(`Clone job ${id.slice(0, 8)}`);
  const job = useQuery(CloneJobDocument, { id }, [id]);
  const [events, setEvents] = useState<CloneJobEvent[]>([]);
  const [subError, setSubError] = useState<IntercloudError | null>(null);
  const [cancelError, setCancelError] = useState<IntercloudError | null>(null);
  const [cancelling, setCancelling] = useState(false);

  useEffect(() => {
    setEvents([]);
    // From seq 0: the whole history, then live; after a reconnect it resumes where it was.
    return api().cloneJobEvents(id, {
      next: (e) => {
        setEvents((list) => [...list, e]);
        if (e.kind !== 'PROGRESS') job.refetch();
      },
      error: (e) => {
        handleAuth(e);
        setSubError(e);
      },
    });
  }, [id]);

  if (!job.data) return job.error ? <ErrorNote error={job.error} what="Clone job" /> : <Loading what="the clone job" />;
  const j = job.data.cloneJob;
  if (!j) {
    return (
      <section>
        <h1>Clone job not found</h1>
        <p>
          No clone job {id} in your tenant. <a href="/">Back to the overview</a>.
        </p>
      </section>
    );
  }
  const lastProgress = [...events].reverse().find((e) => e.bytesTransferred !== null) ?? null;
  const cancel = async () => {
    setCancelling(true);
    setCancelError(null);
    try {
      await api().request(CancelCloneJobDocument, { id });
      job.refetch();
    } catch (err) {
      handleAuth(err);
      setCancelError(err as IntercloudError);
    } finally {
      setCancelling(false);
    }
  };
  return (
    <div class="stack">
      <h1>
        Clone {j.sourceVm?.name ?? '?'} → {j.targetCloud?.name ?? '?'}
      </h1>
      <p id="job-state" class="state">
        State: <Badge value={j.state} /> <span class="small">phase {j.phase} · job {j.id} · created {time(j.createdAt)}</span>
      </p>
      {j.error && (
        <p class="error" role="alert">
          {j.error.code}: {j.error.message}
        </p>
      )}
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Phases</h2>
        <Timeline job={j} events={events} />
      </section>
      <section aria-labelledby="progress-title">
        <h2 id="progress-title">Transfer</h2>
        <Progress job={j} last={lastProgress} />
      </section>
      {j.resultVm && (
        <p>
          The clone is VM <strong>{j.resultVm.name}</strong> ({j.resultVm.addresses.map((a) => `${a.address} ${a.kind}`).join(', ')}).
        </p>
      )}
      <div class="actions">
        <button type="button" class="danger" onClick={cancel} disabled={cancelling || TERMINAL.has(j.state) || j.state === 'CANCELLING' || j.state === 'FAILING'}>
          {j.state === 'CANCELLING' ? 'Cancelling…' : 'Cancel clone'}
        </button>
        <ErrorNote error={cancelError} what="Cancel" />
      </div>
      <section aria-labelledby="log-title">
        <h2 id="log-title">Event log</h2>
        <ErrorNote error={subError} what="Live events" />
        <TableWrap label="Event log">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Phase</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.seq}>
                <td>{e.seq}</td>
                <td>{time(e.at)}</td>
                <td>{e.kind}</td>
                <td>{e.phase}</td>
                <td>{e.message ?? (e.bytesTransferred !== null ? `${bytes(e.bytesTransferred)} / ${bytes(e.bytesTotal)}${e.bytesPerSecond ? ` at ${rate(e.bytesPerSecond)}` : ''}` : '')}</td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      </section>
    </div>
  );
}
