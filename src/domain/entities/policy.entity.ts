import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { Label } from './cloud.entity';
import { numberTransformer } from './transformers';
import { VmTypeEntity } from './vm-type.entity';

/** Hard filters on the target clouds a VM type (or, with no VM type, the whole tenant) may use. */
@Entity('policies')
@Index(['tenantId', 'name'], { unique: true })
export class PolicyEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'uuid', nullable: true })
  vmTypeId!: string | null;

  @ManyToOne(() => VmTypeEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'vm_type_id' })
  vmType?: VmTypeEntity;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'uuid', array: true, default: () => "'{}'" })
  allowCloudIds!: string[];

  @Column({ type: 'uuid', array: true, default: () => "'{}'" })
  denyCloudIds!: string[];

  @Column({ type: 'jsonb', default: () => "'[]'" })
  requiredLabels!: Label[];

  @Column({ type: 'boolean', default: false })
  homeCloudOnly!: boolean;

  @Column({ type: 'numeric', precision: 12, scale: 4, nullable: true, transformer: numberTransformer })
  maxCostPerHour!: number | null;

  @Column({ type: 'integer', nullable: true })
  minBandwidthMbps!: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
