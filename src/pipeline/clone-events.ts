/** Clone job events: one stream per job (dense seq), type `clone.event` for tenant-wide listeners. */
import { EntityManager } from 'typeorm';
import { CloneEventKind, ClonePhase } from '../domain/clone-phase';
import { EventBus } from '../ports/event-bus.port';

export const cloneJobStream = (jobId: string) => `clone-job:${jobId}`;
export const CLONE_EVENT_TYPE = 'clone.event';

export interface CloneEventPayload {
  jobId: string;
  kind: CloneEventKind;
  phase: ClonePhase;
  at: string;
  bytesTransferred: number | null;
  bytesTotal: number | null;
  bytesPerSecond: number | null;
  etaSeconds: number | null;
  message: string | null;
}

export async function publishCloneEvent(
  bus: EventBus,
  tx: EntityManager,
  tenantId: string,
  event: Omit<CloneEventPayload, 'at' | 'bytesTransferred' | 'bytesTotal' | 'bytesPerSecond' | 'etaSeconds' | 'message'> & Partial<CloneEventPayload>,
): Promise<void> {
  const payload: CloneEventPayload = {
    bytesTransferred: null,
    bytesTotal: null,
    bytesPerSecond: null,
    etaSeconds: null,
    message: null,
    ...event,
    at: new Date().toISOString(),
  };
  await bus.publish(tx, { stream: cloneJobStream(event.jobId), tenantId, type: CLONE_EVENT_TYPE, payload });
}
