/** The clone job's phase machine: pure rules about the order of phases and terminal states. */
export enum ClonePhase {
  QUEUED = 'QUEUED',
  SNAPSHOT = 'SNAPSHOT',
  TRANSFER = 'TRANSFER',
  IMPORT = 'IMPORT',
  BOOT = 'BOOT',
  NETWORK = 'NETWORK',
  CONFIGURE = 'CONFIGURE',
  MONITORING = 'MONITORING',
  LOAD_BALANCER = 'LOAD_BALANCER',
  DONE = 'DONE',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/** What a clone job makes: a running clone, or only a standby image in the target cloud (prepareStandby). */
export enum CloneJobPurpose {
  CLONE = 'CLONE',
  /** SNAPSHOT -> TRANSFER -> IMPORT, then DONE with the target image kept as a standby image. */
  STANDBY = 'STANDBY',
}

export enum CloneJobState {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  /** Cancelled: undoing what the job made, then CANCELLED. */
  CANCELLING = 'CANCELLING',
  /** A step failed for good: its cause is recorded, the job undoes what it made, then FAILED. */
  FAILING = 'FAILING',
  DONE = 'DONE',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

export enum CloneEventKind {
  PHASE_STARTED = 'PHASE_STARTED',
  PHASE_COMPLETED = 'PHASE_COMPLETED',
  PROGRESS = 'PROGRESS',
  DONE = 'DONE',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

export const terminalStates: readonly CloneJobState[] = [CloneJobState.DONE, CloneJobState.FAILED, CloneJobState.CANCELLED];

export function isTerminal(state: CloneJobState): boolean {
  return terminalStates.includes(state);
}

/** Why a clone step failed for good (CloneJob.error.code), beside the API's own error codes. */
export enum StepErrorCode {
  SNAPSHOT_FAILED = 'SNAPSHOT_FAILED',
  /** The source server stayed busy with another task (e.g. another snapshot) for longer than the step may wait. */
  SERVER_BUSY = 'SERVER_BUSY',
  CHECKSUM_MISMATCH = 'CHECKSUM_MISMATCH',
  IMPORT_FAILED = 'IMPORT_FAILED',
  BOOT_FAILED = 'BOOT_FAILED',
  NO_FLAVOR = 'NO_FLAVOR',
  NO_NETWORK = 'NO_NETWORK',
  NO_PORT = 'NO_PORT',
  TIMEOUT = 'TIMEOUT',
  /** The source VM has no pinned SSH host key, so the clone's cannot be checked. */
  HOST_KEY_MISSING = 'HOST_KEY_MISSING',
  /** The clone presented another host key than the source's pinned one. */
  HOST_KEY_MISMATCH = 'HOST_KEY_MISMATCH',
  /** A template could not be rendered for this VM (e.g. an IP variable without an address). */
  TEMPLATE_FAILED = 'TEMPLATE_FAILED',
  /** A recipe command exited non-zero. */
  CONFIGURE_FAILED = 'CONFIGURE_FAILED',
  /** The recipe's readiness check did not pass in time. */
  NOT_READY = 'NOT_READY',
  /** Nagios refused the host configuration (its verifier failed) or never showed the host. */
  MONITORING_FAILED = 'MONITORING_FAILED',
  /** The load balancer never listed the destination as live. */
  LOAD_BALANCER_FAILED = 'LOAD_BALANCER_FAILED',
  /** Draining timed out and the VM type says to abort: the VM was put back. */
  DRAIN_TIMEOUT = 'DRAIN_TIMEOUT',
  /** The clone's server was registered with the broker under another tenant before the job finished: never adopted. */
  SERVER_REGISTERED_ELSEWHERE = 'SERVER_REGISTERED_ELSEWHERE',
  /** The target cloud takes none of the formats the source image can be converted to. */
  DISK_FORMAT_UNSUPPORTED = 'DISK_FORMAT_UNSUPPORTED',
  /** Not enough free space where the image is spooled for a format conversion. */
  SPOOL_SPACE = 'SPOOL_SPACE',
  /** qemu-img refused or failed the image (or it is one the broker will not convert, e.g. with a backing file). */
  CONVERSION_FAILED = 'CONVERSION_FAILED',
}

/** Timing of one phase of one job, as stored on the job (clone phases by default; scale-down jobs have theirs). */
export interface PhaseTiming<P extends string = ClonePhase> {
  phase: P;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}

/** A failure that retrying will not fix: the job is undone and ends FAILED with this code. */
export class PermanentStepError extends Error {
  constructor(
    readonly code: StepErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentStepError';
  }
}
