import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { TenantEntity } from './tenant.entity';

/** Something measured per VM, e.g. the Nagios service "Registered OpenSIPS Users". */
@Entity('metrics')
@Index(['tenantId', 'name'], { unique: true })
export class MetricEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @ManyToOne(() => TenantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: TenantEntity;

  @Column({ type: 'varchar', length: 128 })
  name!: string;

  /** Nagios service description to poll; null for push-only metrics. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  nagiosService!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  unit!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
