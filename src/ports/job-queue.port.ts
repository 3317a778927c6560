/** Durable delivery of jobs (clone jobs, scale-down jobs) to whichever broker replica is free. */
import { EntityManager } from 'typeorm';

export type JobKind = 'clone' | 'scale-down';

export interface JobQueue {
  /** Enqueues in the caller's transaction (when given): the job is delivered only if that transaction commits. */
  enqueue(kind: JobKind, tx: EntityManager | null, jobId: string): Promise<void>;
  /** Starts taking jobs of one kind, `concurrency` at a time. */
  work(kind: JobKind, concurrency: number, handler: (jobId: string) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}
