/**
 * One VM type: its thresholds (the form of the seed's Figure 6, validated by the broker: a
 * message appears at the field `extensions.field` names), bindings and policies, its VMs with a
 * samples chart and the matchmaker's explanation, and a clone form.
 */
import { useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import {
  CloneVmDocument,
  CloudsDocument,
  IntercloudError,
  MatchmakeDocument,
  PoliciesDocument,
  SamplesDocument,
  ThresholdFieldsFragment,
  VmsDocument,
  VmTypeFieldsFragment,
  VmTypesDocument,
} from '../../../sdk';
import { seconds } from '../../../cli/format';
import { api, handleAuth, useQuery } from '../api';
import { Badge, ErrorNote, Loading, TableWrap, useTitle } from '../components/common';
import { SamplesChart } from '../components/samples-chart';
import { ThresholdsForm } from '../components/thresholds-form';

function Bindings({ type }: { type: VmTypeFieldsFragment }) {
  const policies = useQuery(PoliciesDocument, {}, [type.id]);
  const clouds = useQuery(CloudsDocument, {});
  const cloudName = (id: string) => clouds.data?.clouds.find((c) => c.id === id)?.name ?? id.slice(0, 8);
  const mine = (policies.data?.policies ?? []).filter((p) => p.vmTypeId === type.id || p.vmTypeId === null);
  return (
    <div class="two">
      <div>
        <h3>Bindings</h3>
        <dl class="fields">
          <dt>Instances</dt>
          <dd>
            {type.minInstances}–{type.maxInstances}
          </dd>
          <dt>Cooldowns</dt>
          <dd>
            up {seconds(type.scaleUpCooldownSeconds)}, down {seconds(type.scaleDownCooldownSeconds)}
          </dd>
          <dt>Boot</dt>
          <dd>
            flavor {type.flavorHint ?? 'cloud default'}, network {type.networkHint ?? 'cloud default'}
          </dd>
          <dt>Monitoring</dt>
          <dd>{type.monitoring ? `Nagios host ${type.monitoring.hostName}; metrics ${type.monitoring.metrics.map((m) => `${m.service} -> ${m.metric}`).join(', ') || 'by service name'}` : 'none'}</dd>
          <dt>Load balancer</dt>
          <dd>{type.loadBalancer ? `set ${type.loadBalancer.setId}, ${type.loadBalancer.uriTemplate}` : 'none'}</dd>
          <dt>Configure</dt>
          <dd>{type.configureRecipe ? `port ${type.configureRecipe.sshPort}: ${type.configureRecipe.files.length} files, ${type.configureRecipe.commands.length} commands` : 'none'}</dd>
          <dt>Drain</dt>
          <dd>
            {type.loadBalancer ? `${type.loadBalancer.drainMetric ?? 'no drain metric'}, ${seconds(type.loadBalancer.drainTimeoutSeconds)}, then ${type.loadBalancer.drainAction}` : 'none'}
          </dd>
        </dl>
      </div>
      <div>
        <h3>Policies</h3>
        {mine.length === 0 ? (
          <p class="muted">No policy: every healthy cloud you can see is a candidate.</p>
        ) : (
          <ul class="plain">
            {mine.map((p) => (
              <li key={p.id}>
                <strong>{p.name}</strong> {p.vmTypeId === null && <span class="small">(tenant-wide)</span>}
                <span class="small">
                  {[
                    p.homeCloudOnly && 'home cloud only',
                    p.allowCloudIds.length > 0 && `only ${p.allowCloudIds.map(cloudName).join(', ')}`,
                    p.denyCloudIds.length > 0 && `never ${p.denyCloudIds.map(cloudName).join(', ')}`,
                    p.requiredLabels.length > 0 && `labels ${p.requiredLabels.map((l) => `${l.key}=${l.value}`).join(', ')}`,
                    p.maxCostPerHour !== null && `cost ≤ ${p.maxCostPerHour}/h`,
                    p.minBandwidthMbps !== null && `≥ ${p.minBandwidthMbps} Mbit/s`,
                  ]
                    .filter(Boolean)
                    .map((t) => ` · ${t}`)
                    .join('')}
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

function Matchmaker({ vmId }: { vmId: string }) {
  const mm = useQuery(MatchmakeDocument, { vmId }, [vmId]);
  if (!mm.data) return mm.error ? <ErrorNote error={mm.error} what="Matchmaker" /> : <Loading what="the matchmaker's ranking" />;
  return (
    <TableWrap label="Matchmaker explanation">
      <thead>
        <tr>
          <th scope="col">Rank</th>
          <th scope="col">Cloud</th>
          <th scope="col">Eligible</th>
          <th scope="col">To capacity</th>
          <th scope="col">Free instances</th>
          <th scope="col">Cost/h</th>
          <th scope="col">Reasons</th>
        </tr>
      </thead>
      <tbody>
        {mm.data.matchmake.map((c) => (
          <tr key={c.cloud.id}>
            <td>{c.rank ?? '–'}</td>
            <th scope="row">{c.cloud.name}</th>
            <td>{c.eligible ? 'yes' : 'no'}</td>
            <td>{seconds(c.estimatedSecondsToCapacity)}</td>
            <td>{c.freeInstances ?? 'unknown'}</td>
            <td>{c.costPerHour}</td>
            <td>
              <ul class="plain small">
                {c.reasons.map((r, i) => (
                  <li key={i}>{r}</li>
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </TableWrap>
  );
}

function Samples({ vmId, vmName, metrics, thresholds }: { vmId: string; vmName: string; metrics: string[]; thresholds: ThresholdFieldsFragment[] }) {
  const [metric, setMetric] = useState(metrics[0] ?? '');
  const [since] = useState(() => new Date(Date.now() - 6 * 3600_000).toISOString());
  // `first` within 1..500 (the API's bound for list arguments); with `since` it caps the newest samples.
  const samples = useQuery(SamplesDocument, metric ? { vmId, metric, since, first: 500 } : null, [vmId, metric]);
  if (metrics.length === 0) return <p class="muted">Set a threshold to chart its metric.</p>;
  const ordered = [...(samples.data?.samples ?? [])].reverse();
  return (
    <div>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label for="metric-select">Metric</label>
        <select id="metric-select" value={metric} onChange={(e) => setMetric((e.target as HTMLSelectElement).value)}>
          {metrics.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
        <span class="small">last 6 hours</span>
      </form>
      <ErrorNote error={samples.error} what="Samples" />
      {samples.data && (ordered.length === 0 ? <p class="muted">No samples of {metric} for {vmName} in the last 6 hours.</p> : <SamplesChart samples={ordered} threshold={thresholds.find((t) => t.metric === metric) ?? null} label={`${metric} of ${vmName}`} />)}
    </div>
  );
}

function CloneForm({ vmId, clouds }: { vmId: string; clouds: { id: string; name: string; health: string }[] }) {
  const [target, setTarget] = useState('');
  const [error, setError] = useState<IntercloudError | null>(null);
  const [busy, setBusy] = useState(false);
  const { route } = useLocation();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { cloneVm } = await api().request(CloneVmDocument, { input: { vmId, targetCloudId: target || null } });
      route(`/jobs/${cloneVm.id}`);
    } catch (err) {
      handleAuth(err);
      setError(err as IntercloudError);
      setBusy(false);
    }
  };
  return (
    <form class="inline" onSubmit={submit}>
      <label for="clone-target">Clone into</label>
      <select id="clone-target" value={target} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}>
        <option value="">the cloud the matchmaker ranks first</option>
        {clouds.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name} ({c.health.toLowerCase()})
          </option>
        ))}
      </select>
      <button type="submit" disabled={busy}>
        {busy ? 'Starting…' : 'Start clone'}
      </button>
      <ErrorNote error={error} what="Clone" />
    </form>
  );
}

export function VmTypePage() {
  const { params } = useRoute();
  const types = useQuery(VmTypesDocument, {}, [params.id]);
  const vms = useQuery(VmsDocument, { vmTypeId: params.id }, [params.id]);
  const clouds = useQuery(CloudsDocument, {});
  const [vmId, setVmId] = useState<string | null>(null);
  const type = types.data?.vmTypes.find((t) => t.id === params.id) ?? null;
  useTitle(type ? `VM type ${type.name}` : 'VM type');
  const list = vms.data?.vms ?? [];
  const selected = list.find((v) => v.id === vmId) ?? list[0] ?? null;

  if (!types.data) return types.error ? <ErrorNote error={types.error} what="VM type" /> : <Loading what="the VM type" />;
  if (!type) {
    return (
      <section>
        <h1>VM type not found</h1>
        <p>
          No VM type {params.id} in your tenant. <a href="/">Back to the overview</a>.
        </p>
      </section>
    );
  }
  return (
    <div class="stack">
      <h1>VM type {type.name}</h1>
      <section aria-labelledby="thresholds-title">
        <h2 id="thresholds-title">Thresholds</h2>
        <p class="small">How long a metric must stay WARNING or CRITICAL before the scheduler acts; a held WARNING may prepare a clone ahead of need.</p>
        <ThresholdsForm type={type} onSaved={types.refetch} />
      </section>
      <section aria-labelledby="bindings-title">
        <h2 id="bindings-title">Bindings and policies</h2>
        <Bindings type={type} />
      </section>
      <section aria-labelledby="vms-title">
        <h2 id="vms-title">VMs</h2>
        {list.length === 0 ? (
          <p class="muted">No VMs yet: import one with `intercloud vms import`.</p>
        ) : (
          <TableWrap label="VMs of this type">
            <thead>
              <tr>
                <th scope="col">VM</th>
                <th scope="col">Cloud</th>
                <th scope="col">State</th>
                <th scope="col">Origin</th>
                <th scope="col">Addresses</th>
              </tr>
            </thead>
            <tbody>
              {list.map((v) => (
                <tr key={v.id} class={selected?.id === v.id ? 'selected' : ''}>
                  <th scope="row">
                    <button type="button" class="link" aria-pressed={selected?.id === v.id} onClick={() => setVmId(v.id)}>
                      {v.name}
                    </button>
                  </th>
                  <td>{v.cloud?.name ?? '?'}</td>
                  <td>
                    <Badge value={v.state} />
                  </td>
                  <td>{v.origin.toLowerCase()}</td>
                  <td>{v.addresses.map((a) => a.address).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        )}
      </section>
      {selected && (
        <>
          <section aria-labelledby="samples-title">
            <h2 id="samples-title">Samples of {selected.name}</h2>
            <Samples vmId={selected.id} vmName={selected.name} metrics={type.thresholds.map((t) => t.metric)} thresholds={type.thresholds} />
          </section>
          <section aria-labelledby="mm-title">
            <h2 id="mm-title">Where a clone of {selected.name} would go</h2>
            <Matchmaker vmId={selected.id} />
            <CloneForm vmId={selected.id} clouds={clouds.data?.clouds ?? []} />
          </section>
        </>
      )}
    </div>
  );
}
