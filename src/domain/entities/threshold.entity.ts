import { Column, JoinColumn, ManyToOne, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { ThresholdRole } from '../enums';
import { VmTypeEntity } from './vm-type.entity';

/** How long WARNING/CRITICAL must hold on one metric of a VM type before acting. */
@Entity('thresholds')
@Index(['vmTypeId', 'metric'], { unique: true })
export class ThresholdEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  vmTypeId!: string;

  @ManyToOne(() => VmTypeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'vm_type_id' })
  vmType?: VmTypeEntity;

  @Column({ type: 'varchar', length: 128 })
  metric!: string;

  @Column({ type: 'boolean' })
  active!: boolean;

  @Column({ type: 'integer' })
  warningHoldSeconds!: number;

  @Column({ type: 'integer' })
  criticalHoldSeconds!: number;

  @Column({ type: 'varchar', length: 16 })
  role!: ThresholdRole;

  @Column({ type: 'boolean', default: false })
  prepareOnWarning!: boolean;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
