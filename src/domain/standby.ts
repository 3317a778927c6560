/** Standby images: their state at a moment, and when one kept fresh is due for a successor. Pure. */

export enum StandbyState {
  /** In its cloud and not expired: clones of its VM type into that cloud boot from it. */
  FRESH = 'FRESH',
  /** Past its expiry (or released), not yet deleted from its cloud: no new clone boots from it. */
  EXPIRED = 'EXPIRED',
  /** Deleted from its cloud. */
  DELETED = 'DELETED',
}

export interface StandbyTimes {
  createdAt: Date;
  expiresAt: Date;
  deletedAt: Date | null;
}

/**
 * A kept-fresh standby gets a successor once less than this share of its own lifetime
 * (expiresAt - createdAt) is left: with the default hour, in its last 15 minutes, which leaves a
 * snapshot and transfer that long to finish before the old one expires.
 */
export const REFRESH_WHEN_LEFT = 0.25;

export function standbyState(s: StandbyTimes, now: Date): StandbyState {
  if (s.deletedAt) return StandbyState.DELETED;
  return s.expiresAt.getTime() > now.getTime() ? StandbyState.FRESH : StandbyState.EXPIRED;
}

export function ageSeconds(s: Pick<StandbyTimes, 'createdAt'>, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - s.createdAt.getTime()) / 1000));
}

/** When a successor of `s` is due: REFRESH_WHEN_LEFT of its lifetime before it expires. */
export function refreshAt(s: Pick<StandbyTimes, 'createdAt' | 'expiresAt'>): Date {
  const lifetimeMs = Math.max(0, s.expiresAt.getTime() - s.createdAt.getTime());
  return new Date(s.expiresAt.getTime() - lifetimeMs * REFRESH_WHEN_LEFT);
}

/** Whether a kept-fresh standby needs its successor now: near its expiry, or already expired or deleted. */
export function refreshDue(s: StandbyTimes, now: Date): boolean {
  return s.deletedAt !== null || now.getTime() >= refreshAt(s).getTime();
}
