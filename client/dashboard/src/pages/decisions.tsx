/** Scaling decisions as they are made, with their reasons, filterable by VM type. */
import { useState } from 'preact/hooks';
import { VmTypesDocument } from '../../../sdk';
import { useQuery } from '../api';
import { ErrorNote, useTitle } from '../components/common';
import { DecisionList } from '../components/decision-list';
import { useLiveDecisions } from '../live-decisions';

export function DecisionsPage() {
  useTitle('Decisions');
  const types = useQuery(VmTypesDocument, {});
  const [vmTypeId, setVmTypeId] = useState<string | null>(new URLSearchParams(location.search).get('vmType'));
  const { decisions, error } = useLiveDecisions(vmTypeId, 100);
  const names = new Map((types.data?.vmTypes ?? []).map((t) => [t.id, t.name]));
  return (
    <div class="stack">
      <h1>Scaling decisions</h1>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label for="decision-filter">VM type</label>
        <select
          id="decision-filter"
          value={vmTypeId ?? ''}
          onChange={(e) => {
            const v = (e.target as HTMLSelectElement).value || null;
            setVmTypeId(v);
            history.replaceState(null, '', v ? `/decisions?vmType=${v}` : '/decisions');
          }}
        >
          <option value="">All VM types</option>
          {(types.data?.vmTypes ?? []).map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </select>
      </form>
      <ErrorNote error={error} what="Decisions" />
      <DecisionList decisions={decisions} names={names} label="Scaling decisions, newest first" />
    </div>
  );
}
