/** Value sets of the domain, shared by entities, services and the GraphQL layer. */
export enum CloudHealth {
  UNKNOWN = 'UNKNOWN',
  HEALTHY = 'HEALTHY',
  DEGRADED = 'DEGRADED',
  UNREACHABLE = 'UNREACHABLE',
}

export enum CredentialKind {
  PASSWORD = 'PASSWORD',
  APPLICATION_CREDENTIAL = 'APPLICATION_CREDENTIAL',
}

export enum SampleState {
  OK = 'OK',
  WARNING = 'WARNING',
  CRITICAL = 'CRITICAL',
  UNKNOWN = 'UNKNOWN',
}

export enum ThresholdRole {
  SCALE_UP = 'SCALE_UP',
  SCALE_DOWN = 'SCALE_DOWN',
}

export enum VmOrigin {
  IMPORTED = 'IMPORTED',
  CLONE = 'CLONE',
}

export enum LoadBalancerKind {
  KAMAILIO_DISPATCHER = 'KAMAILIO_DISPATCHER',
  OPENSIPS_LOAD_BALANCER = 'OPENSIPS_LOAD_BALANCER',
}

export enum DrainAction {
  /** Delete the VM anyway when the drain timeout passes. */
  FORCE_REMOVE = 'FORCE_REMOVE',
  /** Put the VM back into the load balancer and give up the scale-down. */
  ABORT = 'ABORT',
}

export enum ScalingAction {
  NONE = 'NONE',
  PREPARE = 'PREPARE',
  SCALE_UP = 'SCALE_UP',
  SCALE_DOWN = 'SCALE_DOWN',
  EXPIRE_PREPARED = 'EXPIRE_PREPARED',
}

/** Where a VM's pinned SSH host key came from. */
export enum HostKeySource {
  /** Read from the server when it was imported (trust on first use). */
  IMPORTED = 'IMPORTED',
  /** Given by the tenant with setVmHostKey. */
  SET = 'SET',
  /** Inherited from the VM it was cloned from (a clone carries its source's disk, host keys included). */
  CLONED = 'CLONED',
}

/** What the monitoring poller found at a monitoring server's status URL last time. */
export enum MonitoringHealth {
  /** Not polled yet. */
  UNKNOWN = 'UNKNOWN',
  HEALTHY = 'HEALTHY',
  /** The last poll failed (no answer, an HTTP error, an answer that is not Nagios's JSON); see lastError. */
  UNREACHABLE = 'UNREACHABLE',
}
