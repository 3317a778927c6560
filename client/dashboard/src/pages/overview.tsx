/** What a NOC engineer looks at first: clouds, VM types against their bounds, clone and scale-down jobs, decisions as they are made. */
import { useEffect, useRef } from 'preact/hooks';
import {
  CloneJobsDocument,
  CloneJobUpdatesDocument,
  CloudsDocument,
  MatchmakeDocument,
  ScaleDownJobsDocument,
  VmsDocument,
  VmTypesDocument,
} from '../../../sdk';
import { bytes, percent, time } from '../../../cli/format';
import { api, handleAuth, useQuery } from '../api';
import { Badge, ErrorNote, Loading, TableWrap, TERMINAL, useTitle } from '../components/common';
import { DecisionList } from '../components/decision-list';
import { useLiveDecisions } from '../live-decisions';

/** Refetches at most once a second however many events arrive. */
function useThrottledRefetch(refetch: () => void): () => void {
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (pending.current && clearTimeout(pending.current)), []);
  return () => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      refetch();
    }, 1000);
  };
}

function Clouds() {
  const clouds = useQuery(CloudsDocument, {});
  const vms = useQuery(VmsDocument, {});
  const firstVm = vms.data?.vms[0]?.id ?? null;
  // The API has no quota per cloud; the matchmaker's view for one of your VMs has Nova's free instances.
  const quota = useQuery(MatchmakeDocument, firstVm ? { vmId: firstVm } : null, [firstVm]);
  useEffect(() => {
    const t = setInterval(() => clouds.refetch(), 30_000);
    return () => clearInterval(t);
  }, []);
  const free = new Map((quota.data?.matchmake ?? []).map((c) => [c.cloud.id, c.freeInstances]));
  if (!clouds.data) return clouds.error ? <ErrorNote error={clouds.error} what="Clouds" /> : <Loading what="clouds" />;
  return (
    <TableWrap label="Clouds">
      <caption class="sr-only">Clouds with health, latency, quota and sharing</caption>
      <thead>
        <tr>
          <th scope="col">Cloud</th>
          <th scope="col">Health</th>
          <th scope="col">Latency</th>
          <th scope="col">Free instances</th>
          <th scope="col">Shared</th>
          <th scope="col">Owner</th>
          <th scope="col">Labels</th>
        </tr>
      </thead>
      <tbody>
        {clouds.data.clouds.map((c) => (
          <tr key={c.id}>
            <th scope="row">{c.name}</th>
            <td>
              <Badge value={c.health} />
              {c.healthMessage && <span class="small"> {c.healthMessage}</span>}
            </td>
            <td>{c.healthLatencyMs === null ? '–' : `${c.healthLatencyMs} ms`}</td>
            <td>{free.has(c.id) ? (free.get(c.id) ?? 'unlimited') : '–'}</td>
            <td>{c.shared ? 'yes' : 'no'}</td>
            <td>{c.owned ? 'you' : 'partner'}</td>
            <td>{c.labels.map((l) => `${l.key}=${l.value}`).join(' ') || '–'}</td>
          </tr>
        ))}
        {clouds.data.clouds.length === 0 && (
          <tr>
            <td colSpan={7}>No clouds yet: register one with `intercloud clouds register`.</td>
          </tr>
        )}
      </tbody>
    </TableWrap>
  );
}

function VmTypes() {
  const types = useQuery(VmTypesDocument, {});
  const vms = useQuery(VmsDocument, {});
  if (!types.data) return types.error ? <ErrorNote error={types.error} what="VM types" /> : <Loading what="VM types" />;
  return (
    <TableWrap label="VM types">
      <thead>
        <tr>
          <th scope="col">VM type</th>
          <th scope="col">Instances</th>
          <th scope="col">Bounds</th>
          <th scope="col">Thresholds</th>
        </tr>
      </thead>
      <tbody>
        {types.data.vmTypes.map((t) => {
          const n = (vms.data?.vms ?? []).filter((v) => v.vmTypeId === t.id && v.state !== 'DELETED').length;
          const out = n < t.minInstances || n > t.maxInstances;
          return (
            <tr key={t.id}>
              <th scope="row">
                <a href={`/vm-types/${t.id}`}>{t.name}</a>
              </th>
              <td>
                <meter min={0} max={Math.max(t.maxInstances, n)} low={t.minInstances} value={n} aria-label={`${n} instances of ${t.name}`} />{' '}
                <span class={out ? 'warn-text' : ''}>{n}</span>
              </td>
              <td>
                {t.minInstances}–{t.maxInstances}
              </td>
              <td>{t.thresholds.filter((h) => h.active).map((h) => h.metric).join(', ') || '–'}</td>
            </tr>
          );
        })}
        {types.data.vmTypes.length === 0 && (
          <tr>
            <td colSpan={4}>No VM types yet: create them with `intercloud apply`.</td>
          </tr>
        )}
      </tbody>
    </TableWrap>
  );
}

function Jobs() {
  const jobs = useQuery(CloneJobsDocument, { first: 20 });
  const refetch = useThrottledRefetch(jobs.refetch);
  useEffect(() => api().subscribe(CloneJobUpdatesDocument, {}, { next: refetch, onResubscribed: refetch, error: handleAuth }), []);
  if (!jobs.data) return jobs.error ? <ErrorNote error={jobs.error} what="Clone jobs" /> : <Loading what="clone jobs" />;
  const nodes = jobs.data.cloneJobs.nodes;
  const inFlight = nodes.filter((j) => !TERMINAL.has(j.state));
  const recent = nodes.filter((j) => TERMINAL.has(j.state)).slice(0, 5);
  const rows = (list: typeof nodes) =>
    list.map((j) => (
      <tr key={j.id}>
        <th scope="row">
          <a href={`/jobs/${j.id}`}>{j.name}</a>
        </th>
        <td>
          <Badge value={j.state} />
        </td>
        <td>{j.phase}</td>
        <td>
          {j.sourceVm?.name ?? '?'} → {j.targetCloud?.name ?? '?'}
        </td>
        <td>{j.bytesTotal ? `${bytes(j.bytesTransferred)} (${percent(j.bytesTransferred, j.bytesTotal)})` : '–'}</td>
        <td>{time(j.createdAt)}</td>
      </tr>
    ));
  const head = (
    <thead>
      <tr>
        <th scope="col">Job</th>
        <th scope="col">State</th>
        <th scope="col">Phase</th>
        <th scope="col">Clone</th>
        <th scope="col">Transferred</th>
        <th scope="col">Created</th>
      </tr>
    </thead>
  );
  return (
    <>
      <h3>In flight</h3>
      {inFlight.length === 0 ? (
        <p class="muted">No clone in flight.</p>
      ) : (
        <TableWrap label="Clone jobs in flight">
          {head}
          <tbody>{rows(inFlight)}</tbody>
        </TableWrap>
      )}
      <h3>Recently ended</h3>
      {recent.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <TableWrap label="Recently ended clone jobs">
          {head}
          <tbody>{rows(recent)}</tbody>
        </TableWrap>
      )}
    </>
  );
}

/** The API streams scale-down events per job only, so the list is read again: often while one runs. */
function ScaleDownJobs() {
  const jobs = useQuery(ScaleDownJobsDocument, { first: 10 });
  const running = (jobs.data?.scaleDownJobs ?? []).some((j) => !TERMINAL.has(j.state));
  useEffect(() => {
    const t = setInterval(() => jobs.refetch(), running ? 2_000 : 15_000);
    return () => clearInterval(t);
  }, [running]);
  if (!jobs.data) return jobs.error ? <ErrorNote error={jobs.error} what="Scale-down jobs" /> : <Loading what="scale-down jobs" />;
  const list = jobs.data.scaleDownJobs;
  if (list.length === 0) return <p class="muted">No scale-down yet.</p>;
  return (
    <TableWrap label="Scale-down jobs">
      <thead>
        <tr>
          <th scope="col">VM</th>
          <th scope="col">State</th>
          <th scope="col">Phase</th>
          <th scope="col">Created</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {list.map((j) => (
          <tr key={j.id}>
            <th scope="row">{j.vm?.name ?? '?'}</th>
            <td>
              <Badge value={j.state} />
            </td>
            <td>{j.phase}</td>
            <td>{time(j.createdAt)}</td>
            <td>{j.error ? `${j.error.code}: ${j.error.message}` : '–'}</td>
          </tr>
        ))}
      </tbody>
    </TableWrap>
  );
}

function LatestDecisions() {
  const types = useQuery(VmTypesDocument, {});
  const { decisions, error } = useLiveDecisions(null, 8);
  const names = new Map((types.data?.vmTypes ?? []).map((t) => [t.id, t.name]));
  return (
    <>
      <ErrorNote error={error} what="Decisions" />
      <DecisionList decisions={decisions} names={names} label="Latest scaling decisions" />
      <p>
        <a href="/decisions">All decisions</a>
      </p>
    </>
  );
}

export function OverviewPage() {
  useTitle('Overview');
  return (
    <div class="grid">
      <h1 class="span-all">Overview</h1>
      <section aria-labelledby="clouds-title" class="span-all">
        <h2 id="clouds-title">Clouds</h2>
        <Clouds />
      </section>
      <section aria-labelledby="types-title">
        <h2 id="types-title">VM types</h2>
        <VmTypes />
      </section>
      <section aria-labelledby="decisions-title">
        <h2 id="decisions-title">Latest decisions</h2>
        <LatestDecisions />
      </section>
      <section aria-labelledby="jobs-title" class="span-all">
        <h2 id="jobs-title">Clone jobs</h2>
        <Jobs />
      </section>
      <section aria-labelledby="scale-down-title" class="span-all">
        <h2 id="scale-down-title">Scale-down jobs</h2>
        <ScaleDownJobs />
      </section>
    </div>
  );
}
