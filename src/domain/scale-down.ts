/** The scale-down job's phase machine and its bounds: pure rules. */
export enum ScaleDownPhase {
  QUEUED = 'QUEUED',
  /** The VM's destination leaves the SIP load balancer (row out, reload). */
  LB_REMOVE = 'LB_REMOVE',
  /** Calls in progress end: the drain metric must read zero (or the drain timeout's action applies). */
  DRAIN = 'DRAIN',
  /** The server and its floating IPs are deleted in their cloud. */
  DELETE = 'DELETE',
  /** The VM's host leaves Nagios. */
  UNMONITOR = 'UNMONITOR',
  DONE = 'DONE',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/**
 * Whether removing one of `liveInstances` VMs of a type is allowed: never below the type's
 * minimum, and never the last instance whatever the minimum says (a service with no instance
 * left cannot take calls to scale up from). Null when allowed, else why not.
 */
export function scaleDownRefusal(liveInstances: number, minInstances: number): string | null {
  if (liveInstances <= 1) return 'it is the last instance of its VM type';
  if (liveInstances - 1 < minInstances) return `the VM type would go below its minimum of ${minInstances} (${liveInstances} live now)`;
  return null;
}
