/**
 * What a clone step is: a small idempotent function over the job's context, plus its undo.
 * Steps are built by `createCloneSteps(deps)` (steps/index.ts) from the ports they need, so a
 * new phase adds its own dependencies without widening the runner.
 */
import { Logger } from 'pino';
import { ClonePhase, StepErrorCode } from '../domain/clone-phase';
import { CloneJobEntity, CloudEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { VmAddress } from '../domain/entities/vm.entity';
import { sleep } from '../domain/retry';
import { CloudApi } from '../ports/cloud-api.port';
import type { ConversionSettings } from '../transfer/disk-conversion';
import type { TransferHashMode } from '../transfer/sha512-worker';
import type { LocalTransferSide } from '../transfer/local-side';
import type { TransferStats } from '../transfer/chunk-transfer';
import type { SipStepDeps } from './sip/sip-step.deps';

/** Ids of what the job made, checkpointed as soon as each exists so a retry finds it. */
export interface CloneArtefacts {
  snapshotImageId?: string;
  snapshotSize?: number;
  snapshotHash?: string;
  targetImageId?: string;
  /** sha512 of what TRANSFER uploaded when it converted the image (the source's os_hash_value no longer applies to it). */
  targetImageHash?: string;
  /** Glance id of the standby image (in the target cloud) this clone boots from; set at job creation. */
  standbyImageId?: string;
  serverId?: string;
  floatingIpId?: string;
  addresses?: VmAddress[];
  /** The id the clone's VM row gets (fixed at job creation, so templates and load-balancer tags can name it before DONE). */
  cloneVmId?: string;
  /** MONITORING: the Nagios host file written for the clone. */
  nagiosHostFile?: string;
}

export interface CloneContext {
  readonly job: CloneJobEntity;
  readonly artefacts: CloneArtefacts;
  readonly source: { cloud: CloudEntity; api: CloudApi; vm: VmEntity };
  readonly target: { cloud: CloudEntity; api: CloudApi };
  readonly vmType: VmTypeEntity | null;
  readonly intraCloud: boolean;
  /** Aborted when the job is cancelled, this broker stops or its lease is lost. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Persists artefacts (merged) right away. */
  checkpoint(patch: Partial<CloneArtefacts>): Promise<void>;
  /** Transfer progress (with the chunked engine's savings); events are throttled to at most 4 per second. */
  progress(bytesTransferred: number, bytesTotal: number | null, savings?: TransferSavings): void;
  /** Resolves once the progress reported so far is stored, so a phase ends after its last PROGRESS event. */
  progressSettled(): Promise<void>;
  /** A PROGRESS event of the current phase with a message: what the step is doing now, in words (e.g. a format conversion). */
  note(message: string): Promise<void>;
  /** Tags every external object the job creates carries (name, metadata, image properties). */
  readonly tags: Record<string, string>;
}

export interface CloneStep {
  readonly phase: ClonePhase;
  /** Whether the step runs for this job (intra-cloud clones skip TRANSFER and IMPORT). */
  applies(ctx: CloneContext): boolean;
  /** Idempotent: looks for what an earlier attempt made (by artefact id or tag) before creating. */
  run(ctx: CloneContext): Promise<void>;
  /** Idempotent undo of whatever the step (or a partial attempt of it) made. */
  undo?(ctx: CloneContext): Promise<void>;
}

import { PermanentStepError } from '../domain/clone-phase';
export { PermanentStepError };

export interface PollOptions {
  what: string;
  intervalMs?: number;
  timeoutMs: number;
  signal: AbortSignal;
}

/** Polls until `check` returns a value; a timeout is permanent (the cloud did not get there). */
export async function pollUntil<T>(check: () => Promise<T | null | undefined>, o: PollOptions): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  let interval = o.intervalMs ?? 250;
  for (;;) {
    o.signal.throwIfAborted();
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new PermanentStepError(StepErrorCode.TIMEOUT, `timed out after ${Math.round(o.timeoutMs / 1000)} s waiting for ${o.what}`);
    await sleep(interval, o.signal);
    // Capped low: a state change noticed late is time added to every clone.
    interval = Math.min(interval * 1.5, 500);
  }
}

/** How long each step waits for a cloud to get somewhere before the step fails. */
export interface StepTimeouts {
  snapshotMs: number;
  importMs: number;
  bootMs: number;
  floatingIpMs: number;
  deleteMs: number;
}

export const DEFAULT_STEP_TIMEOUTS: StepTimeouts = {
  snapshotMs: 30 * 60_000,
  importMs: 10 * 60_000,
  bootMs: 15 * 60_000,
  floatingIpMs: 2 * 60_000,
  deleteMs: 5 * 60_000,
};

/** What the chunked transfer engine saved so far, in a PROGRESS event. */
export interface TransferSavings {
  /** Bytes sent over the intercloud link (chunk frames). */
  linkBytes: number;
  /** Image bytes in all-zero chunks, sent as markers. */
  zeroBytes: number;
  /** Image bytes of chunks the target already held. */
  dedupBytes: number;
  /** Image bytes of the chunks sent, per byte on the link (1 when nothing compressed). */
  compressionRatio: number | null;
}

/** The chunked engine's dependencies (config.transfer): who signs agent tokens, what this process uses to play a side. */
export interface TransferEngineDeps {
  engine: 'auto' | 'relay' | 'chunked';
  secret: string | null;
  local: LocalTransferSide;
  /** Counts a transfer's progress (deltas) for /metrics, per job and per agent. */
  record?: (jobId: string, agent: string, delta: TransferStats) => void;
  /** Images already in the target cloud (the tenant's own, of the VM type) to index before sending; services/transfer-base-images.ts. */
  baseImages?: (q: { tenantId: string; vmTypeId: string; cloudId: string; jobId: string }) => Promise<string[]>;
}

/** What the steps are built from (steps/index.ts). */
export interface CloneStepDeps {
  timeouts: StepTimeouts;
  /** The SIP service path's ports (CONFIGURE, MONITORING, LOAD_BALANCER); without them those phases are not part of the pipeline. */
  sip?: SipStepDeps;
  /** Where TRANSFER computes its sha512 (default: a worker thread). */
  transferHash?: TransferHashMode;
  /** Where and how TRANSFER converts disk formats (default: DEFAULT_CONVERSION_SETTINGS). */
  conversion?: ConversionSettings;
  /** The chunked transfer engine; without it TRANSFER always relays. */
  transfer?: TransferEngineDeps;
}
