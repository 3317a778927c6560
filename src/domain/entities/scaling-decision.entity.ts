import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { ScalingAction } from '../enums';

/** What the scheduler decided for a VM type and why. */
@Entity('scaling_decisions')
@Index(['tenantId', 'vmTypeId', 'decidedAt'])
@Index('scaling_decisions_type_decided_idx', ['vmTypeId', 'decidedAt'])
export class ScalingDecisionEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'uuid' })
  vmTypeId!: string;

  @Column({ type: 'varchar', length: 16 })
  action!: ScalingAction;

  @Column({ type: 'varchar', length: 128, nullable: true })
  metric!: string | null;

  @Column({ type: 'text' })
  reason!: string;

  /** The samples, threshold and candidates the decision read. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  evidence!: Record<string, unknown>;

  @Column({ type: 'uuid', nullable: true })
  cloneJobId!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  decidedAt!: Date;
}
