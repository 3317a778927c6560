import { Column, JoinColumn, ManyToOne, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { SampleState } from '../enums';
import { numberTransformer } from './transformers';
import { VmEntity } from './vm.entity';

/**
 * One observation of one metric of one VM. The (vm, metric, observed_at DESC) index serves
 * both "latest N per VM and metric" and "since T".
 */
@Entity('samples')
@Index('samples_vm_metric_observed_idx', ['vmId', 'metric', 'observedAt'])
// Retention deletes the oldest first, across VMs.
@Index('samples_observed_idx', ['observedAt'])
// The autoscaler's tick: the few samples at WARNING or worse, by time, name the series that can hold.
@Index('samples_held_observed_idx', ['observedAt', 'vmId', 'metric'], { where: `state IN ('WARNING', 'CRITICAL')` })
export class SampleEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'uuid' })
  vmId!: string;

  @ManyToOne(() => VmEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'vm_id' })
  vm?: VmEntity;

  @Column({ type: 'varchar', length: 128 })
  metric!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: SampleState;

  @Column({ type: 'double precision', nullable: true, transformer: numberTransformer })
  value!: number | null;

  @Column({ type: 'timestamptz' })
  observedAt!: Date;

  @Column({ type: 'varchar', length: 16 })
  source!: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  recordedAt!: Date;
}
