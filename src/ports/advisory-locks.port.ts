/**
 * Every PostgreSQL advisory lock id the broker takes, in one place: each is fixed and the same
 * in every replica, and two tasks must never share one by accident.
 */
export const AdvisoryLock = {
  /** Schema changes at start-up (TypeORM migrations, then pg-boss's own schema and queues). */
  SCHEMA: 7_310_001,
  /** Creating the bootstrap admin token exactly once. */
  ADMIN_BOOTSTRAP: 7_310_002,
  /** Leadership of the periodic tasks (health probes, reaper, retention); one leader runs them all. */
  SCHEDULER: 7_310_003,
} as const;

export type AdvisoryLockId = (typeof AdvisoryLock)[keyof typeof AdvisoryLock];
