/** Durable delivery of clone jobs to whichever broker replica is free. */
import { EntityManager } from 'typeorm';

export interface JobQueue {
  /** Enqueues in the caller's transaction: the job is delivered only if that transaction commits. */
  enqueueClone(tx: EntityManager | null, cloneJobId: string): Promise<void>;
  /** Starts taking clone jobs, one at a time per call of `handler`. */
  workClones(handler: (cloneJobId: string) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}
