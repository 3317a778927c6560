import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { CloneJobPurpose, ClonePhase, CloneJobState, PhaseTiming } from '../clone-phase';
import { Placement } from '../matchmaking';
import { numberTransformer } from './transformers';
import { CloudEntity } from './cloud.entity';
import { VmEntity } from './vm.entity';

/** One clone of one VM into one target cloud, checkpointed after every step. */
@Entity('clone_jobs')
@Index(['tenantId', 'idempotencyKey'], { unique: true })
@Index('clone_jobs_tenant_created_idx', ['tenantId', 'createdAt', 'id'])
@Index('clone_jobs_state_lease_idx', ['state', 'leaseExpiresAt'])
@Index('clone_jobs_type_state_idx', ['vmTypeId', 'state'])
export class CloneJobEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'varchar', length: 128 })
  idempotencyKey!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  @Column({ type: 'uuid' })
  sourceVmId!: string;

  @ManyToOne(() => VmEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'source_vm_id' })
  sourceVm?: VmEntity;

  @Column({ type: 'uuid' })
  sourceCloudId!: string;

  /** The source VM's type when the job was made (null for a VM without one): the autoscaler counts and times clones by it. */
  @Column({ type: 'uuid', nullable: true })
  vmTypeId!: string | null;

  @Column({ type: 'uuid' })
  targetCloudId!: string;

  @ManyToOne(() => CloudEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'target_cloud_id' })
  targetCloud?: CloudEntity;

  /** CLONE: a running clone; STANDBY: only an image kept in the target cloud (prepareStandby). */
  @Column({ type: 'varchar', length: 16, default: CloneJobPurpose.CLONE })
  purpose!: CloneJobPurpose;

  /** The standby image (standby_images.id) this clone boots from instead of SNAPSHOT, TRANSFER and IMPORT. */
  @Column({ type: 'uuid', nullable: true })
  standbyImageId!: string | null;

  /** STANDBY jobs: the standby image made is kept fresh (prepareStandby keepFresh, or a refresh). */
  @Column({ type: 'boolean', default: false })
  keepFresh!: boolean;

  /** Why the matchmaker chose the target, when the clone named none: every candidate with its verdict and estimate. */
  @Column({ type: 'jsonb', nullable: true })
  placement!: Placement | null;

  @Column({ type: 'varchar', length: 16 })
  phase!: ClonePhase;

  @Column({ type: 'varchar', length: 16 })
  state!: CloneJobState;

  @Column({ type: 'bigint', nullable: true, transformer: numberTransformer })
  bytesTotal!: number | null;

  @Column({ type: 'bigint', default: 0, transformer: numberTransformer })
  bytesTransferred!: number;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  phases!: PhaseTiming[];

  /** What each finished step made (snapshot id, target image id, server id, ...). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  artefacts!: Record<string, unknown>;

  @Column({ type: 'varchar', length: 32, nullable: true })
  errorCode!: string | null;

  @Column({ type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ type: 'uuid', nullable: true })
  resultVmId!: string | null;

  @Column({ type: 'uuid', nullable: true })
  requestedByTokenId!: string | null;

  /** Attempts that failed outside any step (a cloud that could not be opened, ...); at the step budget the job ends FAILED. */
  @Column({ type: 'integer', default: 0 })
  runnerFailures!: number;

  /** The broker process running the job; its lease is renewed while it works. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  leaseOwner!: string | null;

  /** Past this, a crashed runner's job is taken over and resumed from its checkpoint. */
  @Column({ type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}
