/** A feed of scaling decisions; new ones are announced politely to screen readers. */
import { DecisionFieldsFragment } from '../../../sdk';
import { time } from '../../../cli/format';
import { Badge } from './common';

export function DecisionList({ decisions, names, label }: { decisions: DecisionFieldsFragment[]; names: Map<string, string>; label: string }) {
  return (
    <ol class="feed" aria-label={label} aria-live="polite" aria-relevant="additions">
      {decisions.map((d) => (
        <li key={d.id} class="decision">
          <div class="decision-head">
            <Badge value={d.action} /> <strong>{names.get(d.vmTypeId) ?? d.vmTypeId}</strong>
            {d.metric && <span class="small"> · {d.metric}</span>}
            <time class="small" dateTime={d.decidedAt}>
              {' '}
              · {time(d.decidedAt)}
            </time>
          </div>
          <p class="reason">{d.reason}</p>
          {d.cloneJobId && (
            <p class="small">
              <a href={`/jobs/${d.cloneJobId}`}>Clone job {d.cloneJobId.slice(0, 8)}</a>
            </p>
          )}
        </li>
      ))}
      {decisions.length === 0 && <li class="muted">No decisions yet.</li>}
    </ol>
  );
}
