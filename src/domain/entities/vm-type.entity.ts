import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { DrainAction, LoadBalancerKind } from '../enums';
import { TenantEntity } from './tenant.entity';

/** A file rendered from a template onto the clone, then commands run over SSH. */
export interface ConfigureRecipe {
  sshUser: string;
  sshPort: number;
  files: { path: string; template: string; mode: number }[];
  /** Each command is an argument vector, never a shell string. */
  commands: string[][];
}

export interface MonitoringBinding {
  /** Nagios host template the clone's host object uses. */
  hostTemplate: string;
  /** Nagios services (by description) created for the clone, each from a service template. */
  services: { description: string; template: string }[];
}

export interface LoadBalancerBinding {
  kind: LoadBalancerKind;
  /** Dispatcher set id (Kamailio) or group id (OpenSIPS). */
  setId: number;
  sipPort: number;
  transport: 'udp' | 'tcp';
  /** Reference to the load balancer's connection settings, held by the operator's config. */
  target: string;
}

/** A class of VMs under scaling control. */
@Entity('vm_types')
@Index(['tenantId', 'name'], { unique: true })
export class VmTypeEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @ManyToOne(() => TenantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: TenantEntity;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'integer' })
  minInstances!: number;

  @Column({ type: 'integer' })
  maxInstances!: number;

  @Column({ type: 'integer', default: 300 })
  scaleUpCooldownSeconds!: number;

  @Column({ type: 'integer', default: 600 })
  scaleDownCooldownSeconds!: number;

  @Column({ type: 'varchar', length: 255, nullable: true })
  flavorHint!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  networkHint!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  configureRecipe!: ConfigureRecipe | null;

  @Column({ type: 'jsonb', nullable: true })
  monitoring!: MonitoringBinding | null;

  @Column({ type: 'jsonb', nullable: true })
  loadBalancer!: LoadBalancerBinding | null;

  @Column({ type: 'integer', default: 300 })
  drainTimeoutSeconds!: number;

  @Column({ type: 'varchar', length: 16, default: DrainAction.FORCE_REMOVE })
  drainTimeoutAction!: DrainAction;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
