/**
 * What a scale-down step is: a small idempotent function over the job's context (the VM, its
 * cloud, its VM type), plus its undo, built by `createScaleDownSteps(deps)` (steps/index.ts).
 */
import { Logger } from 'pino';
import { CloudEntity, ScaleDownJobEntity, VmEntity, VmTypeEntity } from '../../domain/entities';
import { CloudApi } from '../../ports/cloud-api.port';
import { TemplateValues } from '../../domain/template';
import { SagaStep } from '../saga-runner';
import type { SipStepDeps } from '../sip/sip-step.deps';

/** What the steps found or did, checkpointed as they go. */
export interface ScaleDownArtefacts {
  serverDeleted?: boolean;
  floatingIpIds?: string[];
  /** DRAIN: the last reading and when it was taken. */
  drainValue?: number | null;
  drainObservedAt?: string | null;
  /** When DRAIN began: only samples observed after it count. */
  drainStartedAt?: string;
}

export interface ScaleDownContext {
  readonly job: ScaleDownJobEntity;
  readonly artefacts: ScaleDownArtefacts;
  readonly vm: VmEntity;
  readonly cloud: CloudEntity;
  /** The VM's cloud, fenced by the job's lease. */
  readonly api: CloudApi;
  readonly vmType: VmTypeEntity | null;
  /** The VM's template values (load-balancer URI, Nagios host name), rendered as when it was added. */
  readonly values: TemplateValues;
  readonly signal: AbortSignal;
  readonly log: Logger;
  checkpoint(patch: Partial<ScaleDownArtefacts>): Promise<void>;
  /** DRAIN: a new reading of the drain metric, checkpointed and published as a PROGRESS event in one transaction. */
  drainReading(value: number | null, observedAt: string, message: string): Promise<void>;
}

export type ScaleDownStep = SagaStep<ScaleDownContext>;

export interface ScaleDownStepDeps {
  timeouts: { deleteMs: number };
  /** The SIP service path's ports (LB_REMOVE, DRAIN, UNMONITOR); without them those phases are not part of the pipeline. */
  sip?: SipStepDeps;
}
