import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { DrainAction } from '../enums';
import { LoadBalancerEntity } from './load-balancer.entity';
import { MonitoringServerEntity } from './monitoring-server.entity';
import { SshKeyEntity } from './ssh-key.entity';
import { TenantEntity } from './tenant.entity';

/**
 * How a VM of the type is reconfigured over SSH after a clone boots: files rendered from
 * templates, then commands (argument vectors whose elements are templates), then a readiness
 * check. Every template is checked (syntax, variables) when the VM type is saved.
 */
export interface ConfigureRecipe {
  /** The tenant's SshKey to log in with (its username is the login). */
  sshKeyId: string;
  sshPort: number;
  /** Run commands under `sudo -n`; null: when the key's user is not root. */
  sudo: boolean | null;
  files: { path: string; template: string; mode: number }[];
  /** Each command is an argument vector, never a shell string; each element is a template. */
  commands: string[][];
  /** What must answer before the clone counts as configured; null: nothing beyond the commands. */
  readiness: ReadinessCheck | null;
}

export interface ReadinessCheck {
  /** An argument vector (elements are templates) that must exit 0. */
  command: string[] | null;
  /** A TCP port on the VM that must accept a connection. */
  tcpPort: number | null;
  /** A UDP port on the VM that must answer. */
  udpPort: number | null;
  timeoutSeconds: number;
}

/** How VMs of the type are registered in one of the tenant's Nagios servers and read by the poller. */
export interface MonitoringBinding {
  serverId: string;
  /** Nagios object definitions written for each VM (a template; must use {{hostName}}). */
  hostTemplate: string;
  /** The VM's Nagios host name (a template, default `{{vmName}}`): how the poller finds the VM's services. */
  hostName: string;
  /** Nagios service description -> metric name; services not listed are metrics of their own name. */
  metrics: { service: string; metric: string }[];
}

/** How VMs of the type are added to and drained from one of the tenant's SIP load balancers. */
export interface LoadBalancerBinding {
  loadBalancerId: string;
  /** Dispatcher set id (Kamailio) or group id (OpenSIPS). */
  setId: number;
  /** The destination's SIP URI (a template, default `sip:{{fixedIp}}:5060`). */
  uriTemplate: string;
  /** Dispatcher `attrs` / load_balancer `resources` (a template, may be empty). */
  attrs: string;
  /** The metric that must read zero before a drained VM is deleted (e.g. active calls); null: no wait. */
  drainMetric: string | null;
  drainTimeoutSeconds: number;
  /** What to do when the drain times out. */
  drainAction: DrainAction;
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

  /**
   * Whether the autoscaler's scale-down may remove the type's original (imported) VMs. Off by
   * default: the original is the VM the tenant brought and the one clones are made from.
   */
  @Column({ type: 'boolean', default: false })
  scaleDownMayRemoveOriginal!: boolean;

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

  // The ids the bindings name, as columns with foreign keys: an SSH key, Nagios or load balancer
  // a VM type uses cannot disappear under it (written together with the bindings, never alone).
  @Index()
  @Column({ type: 'uuid', nullable: true })
  sshKeyId!: string | null;

  @ManyToOne(() => SshKeyEntity, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'ssh_key_id' })
  sshKey?: SshKeyEntity;

  @Index()
  @Column({ type: 'uuid', nullable: true })
  monitoringServerId!: string | null;

  @ManyToOne(() => MonitoringServerEntity, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'monitoring_server_id' })
  monitoringServer?: MonitoringServerEntity;

  @Index()
  @Column({ type: 'uuid', nullable: true })
  loadBalancerId!: string | null;

  @ManyToOne(() => LoadBalancerEntity, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'load_balancer_id' })
  loadBalancerRow?: LoadBalancerEntity;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
