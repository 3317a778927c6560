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
