/**
 * The thresholds of a VM type (the seed's Figure 6: per metric active, WARNING hold, CRITICAL
 * hold, role, prepare on WARNING). The broker validates; its message appears at the input that
 * `extensions.field` names (`thresholds.<row>.<field>`), with aria-invalid and aria-describedby.
 */
import { useEffect, useState } from 'preact/hooks';
import { IntercloudError, SetThresholdsDocument, ThresholdFieldsFragment, ThresholdRole, VmTypeFieldsFragment } from '../../../sdk';
import { api, handleAuth } from '../api';
import { TableWrap } from './common';

type Row = { metric: string; active: boolean; warningHoldSeconds: string; criticalHoldSeconds: string; role: ThresholdRole; prepareOnWarning: boolean };

const toRow = (t: ThresholdFieldsFragment): Row => ({ ...t, warningHoldSeconds: String(t.warningHoldSeconds), criticalHoldSeconds: String(t.criticalHoldSeconds) });
const fieldId = (i: number, f: string) => `th-${i}-${f}`;

export function ThresholdsForm({ type, onSaved }: { type: VmTypeFieldsFragment; onSaved: () => void }) {
  const [rows, setRows] = useState<Row[]>(type.thresholds.map(toRow));
  const [error, setError] = useState<IntercloudError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => setRows(type.thresholds.map(toRow)), [type.id]);

  const set = (i: number, patch: Partial<Row>) => {
    setSaved(false);
    setRows((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  };
  const errorFor = (i: number, f: string) => (error && error.field === `thresholds.${i}.${f}` ? error.rule ?? error.message : null);
  const invalid = (i: number, f: string) => (errorFor(i, f) ? { 'aria-invalid': 'true' as const, 'aria-describedby': `${fieldId(i, f)}-error` } : {});
  const fieldError = (i: number, f: string) =>
    errorFor(i, f) && (
      <span id={`${fieldId(i, f)}-error`} class="field-error">
        {errorFor(i, f)}
      </span>
    );

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const thresholds = rows.map((r) => ({
        metric: r.metric.trim(),
        active: r.active,
        // An empty or non-numeric box is sent as it is, so the broker's rule (and message) applies.
        warningHoldSeconds: r.warningHoldSeconds.trim() === '' ? Number.NaN : Number(r.warningHoldSeconds),
        criticalHoldSeconds: r.criticalHoldSeconds.trim() === '' ? Number.NaN : Number(r.criticalHoldSeconds),
        role: r.role,
        prepareOnWarning: r.prepareOnWarning,
      }));
      const bad = thresholds.findIndex((t) => !Number.isFinite(t.warningHoldSeconds) || !Number.isFinite(t.criticalHoldSeconds));
      if (bad >= 0) {
        const f = Number.isFinite(thresholds[bad].warningHoldSeconds) ? 'criticalHoldSeconds' : 'warningHoldSeconds';
        throw new IntercloudError(`thresholds.${bad}.${f}: must be a number of seconds`, 'BAD_USER_INPUT', `thresholds.${bad}.${f}`, 'must be a number of seconds');
      }
      await api().request(SetThresholdsDocument, { vmTypeId: type.id, thresholds });
      setSaved(true);
      onSaved();
    } catch (err) {
      handleAuth(err);
      setError(err instanceof IntercloudError ? err : new IntercloudError(String(err), 'INTERNAL'));
    } finally {
      setBusy(false);
    }
  };

  const matched = error?.field ? /^thresholds\.(\d+)\.(\w+)$/.exec(error.field) : null;
  return (
    <form onSubmit={submit} noValidate aria-labelledby="thresholds-title" class="thresholds">
      {error && (
        <p class="error" role="alert">
          Not saved: {matched ? `row ${Number(matched[1]) + 1} (${rows[Number(matched[1])]?.metric || 'new metric'}), ${matched[2]}: ${error.rule ?? error.message}` : error.message}
        </p>
      )}
      <TableWrap label="Thresholds">
        <thead>
          <tr>
            <th scope="col">Metric</th>
            <th scope="col">Active</th>
            <th scope="col">WARNING hold (s)</th>
            <th scope="col">CRITICAL hold (s)</th>
            <th scope="col">Role</th>
            <th scope="col">Prepare on WARNING</th>
            <th scope="col">
              <span class="sr-only">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              <td>
                <label class="sr-only" for={fieldId(i, 'metric')}>
                  Metric of row {i + 1}
                </label>
                <input id={fieldId(i, 'metric')} value={r.metric} onInput={(e) => set(i, { metric: (e.target as HTMLInputElement).value })} {...invalid(i, 'metric')} />
                {fieldError(i, 'metric')}
              </td>
              <td>
                <input type="checkbox" id={fieldId(i, 'active')} aria-label={`${r.metric || `row ${i + 1}`} active`} checked={r.active} onChange={(e) => set(i, { active: (e.target as HTMLInputElement).checked })} />
              </td>
              {(['warningHoldSeconds', 'criticalHoldSeconds'] as const).map((f) => (
                <td key={f}>
                  <label class="sr-only" for={fieldId(i, f)}>
                    {r.metric || `row ${i + 1}`} {f === 'warningHoldSeconds' ? 'WARNING' : 'CRITICAL'} hold in seconds
                  </label>
                  <input id={fieldId(i, f)} type="number" inputMode="numeric" step={1} class="num" value={r[f]} onInput={(e) => set(i, { [f]: (e.target as HTMLInputElement).value })} {...invalid(i, f)} />
                  {fieldError(i, f)}
                </td>
              ))}
              <td>
                <label class="sr-only" for={fieldId(i, 'role')}>
                  {r.metric || `row ${i + 1}`} role
                </label>
                <select id={fieldId(i, 'role')} value={r.role} onChange={(e) => set(i, { role: (e.target as HTMLSelectElement).value as ThresholdRole })} {...invalid(i, 'role')}>
                  <option value="SCALE_UP">scale up</option>
                  <option value="SCALE_DOWN">scale down</option>
                </select>
                {fieldError(i, 'role')}
              </td>
              <td>
                <input
                  type="checkbox"
                  id={fieldId(i, 'prepareOnWarning')}
                  aria-label={`${r.metric || `row ${i + 1}`} prepare on WARNING`}
                  checked={r.prepareOnWarning}
                  onChange={(e) => set(i, { prepareOnWarning: (e.target as HTMLInputElement).checked })}
                  {...invalid(i, 'prepareOnWarning')}
                />
                {fieldError(i, 'prepareOnWarning')}
              </td>
              <td>
                <button type="button" class="secondary" onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))} aria-label={`Remove ${r.metric || `row ${i + 1}`}`}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </TableWrap>
      <div class="actions">
        <button type="button" class="secondary" onClick={() => setRows((rs) => [...rs, { metric: '', active: true, warningHoldSeconds: '60', criticalHoldSeconds: '30', role: 'SCALE_UP', prepareOnWarning: false }])}>
          Add metric
        </button>
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save thresholds'}
        </button>
        {saved && (
          <span class="ok-text" role="status">
            Saved.
          </span>
        )}
      </div>
    </form>
  );
}
