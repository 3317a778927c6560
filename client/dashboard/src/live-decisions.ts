/**
 * Scaling decisions of a VM type (or all), newest first: the latest by query, then live ones as
 * they are made. The API replays no decisions after a reconnect (no afterSeq), so the list is
 * read again whenever the subscription comes back.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { DecisionFieldsFragment, ScalingDecisionsDocument, ScalingDecisionsLiveDocument } from '../../sdk';
import { api, handleAuth, useQuery } from './api';

export function useLiveDecisions(vmTypeId: string | null, first: number): { decisions: DecisionFieldsFragment[]; error: Error | null } {
  const initial = useQuery(ScalingDecisionsDocument, { vmTypeId, first }, [vmTypeId, first]);
  const [live, setLive] = useState<DecisionFieldsFragment[]>([]);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    setLive([]);
    return api().subscribe(
      ScalingDecisionsLiveDocument,
      { vmTypeId },
      {
        next: (d) => setLive((l) => [d.scalingDecisions, ...l].slice(0, 200)),
        error: (e) => {
          handleAuth(e);
          setError(e);
        },
        // Decisions made while disconnected are not replayed by the API: read them again.
        onResubscribed: () => initial.refetch(),
      },
    );
  }, [vmTypeId]);
  const decisions = useMemo(() => {
    const seen = new Set<string>();
    return [...live, ...(initial.data?.scalingDecisions ?? [])].filter((d) => !seen.has(d.id) && !!seen.add(d.id)).slice(0, first);
  }, [live, initial.data, first]);
  return { decisions, error: error ?? initial.error };
}
