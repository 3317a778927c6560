import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { CloneJobState, PhaseTiming } from '../clone-phase';
import { ScaleDownPhase } from '../scale-down';

/**
 * One removal of one VM: LB_REMOVE -> DRAIN -> DELETE -> UNMONITOR -> DONE, durable like a clone
 * job (the same lease, checkpoint, resume and undo machinery, src/pipeline/saga-runner.ts).
 */
@Entity('scale_down_jobs')
@Index('scale_down_jobs_tenant_created_idx', ['tenantId', 'createdAt', 'id'])
@Index('scale_down_jobs_state_lease_idx', ['state', 'leaseExpiresAt'])
// At most one live removal per VM.
@Index('scale_down_jobs_vm_live_uq', ['vmId'], { unique: true, where: `state NOT IN ('DONE', 'FAILED', 'CANCELLED')` })
export class ScaleDownJobEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'uuid' })
  vmId!: string;

  @Column({ type: 'uuid', nullable: true })
  vmTypeId!: string | null;

  /** Why it was started (the caller, or the scheduler's decision). */
  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ type: 'varchar', length: 16 })
  phase!: ScaleDownPhase;

  @Column({ type: 'varchar', length: 16 })
  state!: CloneJobState;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  phases!: PhaseTiming<ScaleDownPhase>[];

  /** What each step found or did (e.g. the drain's last reading, the floating IPs deleted). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  artefacts!: Record<string, unknown>;

  @Column({ type: 'varchar', length: 32, nullable: true })
  errorCode!: string | null;

  @Column({ type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ type: 'uuid', nullable: true })
  requestedByTokenId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  leaseOwner!: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;

  @Column({ type: 'integer', default: 0 })
  runnerFailures!: number;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}
