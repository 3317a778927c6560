/** Scale-down job events: one stream per job (dense seq), type `scaleDown.event` for tenant-wide listeners. */
import { EntityManager } from 'typeorm';
import { CloneEventKind } from '../../domain/clone-phase';
import { ScaleDownPhase } from '../../domain/scale-down';
import { EventBus } from '../../ports/event-bus.port';

export const scaleDownJobStream = (jobId: string) => `scale-down-job:${jobId}`;
export const SCALE_DOWN_EVENT_TYPE = 'scaleDown.event';

export interface ScaleDownEventPayload {
  jobId: string;
  vmId: string;
  kind: CloneEventKind;
  phase: ScaleDownPhase;
  at: string;
  message: string | null;
  /** DRAIN: the drain metric's last reading. */
  drainValue: number | null;
}

export async function publishScaleDownEvent(
  bus: EventBus,
  tx: EntityManager,
  tenantId: string,
  event: Omit<ScaleDownEventPayload, 'at' | 'message' | 'drainValue'> & Partial<ScaleDownEventPayload>,
): Promise<void> {
  const payload: ScaleDownEventPayload = { message: null, drainValue: null, ...event, at: new Date().toISOString() };
  await bus.publish(tx, { stream: scaleDownJobStream(event.jobId), tenantId, type: SCALE_DOWN_EVENT_TYPE, payload });
}
