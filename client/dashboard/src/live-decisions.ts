/**
 * Scaling decisions of a VM type (or all), newest first: the latest by query, then live ones as
 * they are made. A reconnect resumes after the last decision delivered (afterSeq); only when it
 * came back before the first one is the list read again.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { DecisionFieldsFragment, ScalingDecisionsDocument } from '../../sdk';
import { api, handleAuth, useQuery } from './api';

export function useLiveDecisions(vmTypeId: string | null, first: number): { decisions: DecisionFieldsFragment[]; error: Error | null } {
  const initial = useQuery(ScalingDecisionsDocument, { vmTypeId, first }, [vmTypeId, first]);
  const [live, setLive] = useState<DecisionFieldsFragment[]>([]);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    setLive([]);
    return api().scalingDecisions(
      {
        next: (d) => setLive((l) => [d, ...l].slice(0, 200)),
        error: (e) => {
          handleAuth(e);
          setError(e);
        },
        onResubscribed: (replayed) => {
          if (!replayed) initial.refetch();
        },
      },
      { vmTypeId: vmTypeId ?? undefined },
    );
  }, [vmTypeId]);
  const decisions = useMemo(() => {
    const seen = new Set<string>();
    return [...live, ...(initial.data?.scalingDecisions ?? [])].filter((d) => !seen.has(d.id) && !!seen.add(d.id)).slice(0, first);
  }, [live, initial.data, first]);
  return { decisions, error: error ?? initial.error };
}
