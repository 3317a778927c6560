import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { MonitoringHealth } from '../enums';
import { SshKeyEntity } from './ssh-key.entity';
import { TenantEntity } from './tenant.entity';

/**
 * A tenant's Nagios 4: where the poller reads service states (statusjson.cgi with HTTP basic
 * authentication; the password is sealed together with the URL it may be sent to) and how the
 * MONITORING step changes its configuration (over SSH with a pinned host key).
 */
@Entity('monitoring_servers')
@Index(['tenantId', 'name'], { unique: true })
export class MonitoringServerEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @ManyToOne(() => TenantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: TenantEntity;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  /** `.../cgi-bin/nagios4/statusjson.cgi` */
  @Column({ type: 'varchar', length: 512 })
  statusUrl!: string;

  @Column({ type: 'varchar', length: 255 })
  username!: string;

  /** Sealed `{ v: 1, statusUrl, password }`: the password is only sent to the URL it was given for. */
  @Column({ type: 'bytea' })
  passwordCiphertext!: Buffer;

  @Column({ type: 'varchar', length: 253 })
  sshHost!: string;

  @Column({ type: 'integer' })
  sshPort!: number;

  @Column({ type: 'uuid' })
  sshKeyId!: string;

  @ManyToOne(() => SshKeyEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'ssh_key_id' })
  sshKey?: SshKeyEntity;

  /** Pinned host key of sshHost: its algorithm when known, and its SHA256 fingerprint. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  sshHostKeyAlgorithm!: string | null;

  @Column({ type: 'varchar', length: 64 })
  sshHostKeyFingerprint!: string;

  /** Directory the broker writes one `<host>.cfg` per VM into. */
  @Column({ type: 'varchar', length: 512 })
  configDir!: string;

  /** Argument vector that verifies the whole configuration; exit 0 means valid. */
  @Column({ type: 'text', array: true })
  verifyCommand!: string[];

  /** PID file of the Nagios process that gets SIGHUP to reload. */
  @Column({ type: 'varchar', length: 512 })
  pidFile!: string;

  @Column({ type: 'varchar', length: 16, default: MonitoringHealth.UNKNOWN })
  health!: MonitoringHealth;

  @Column({ type: 'varchar', length: 512, nullable: true })
  lastError!: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  lastPolledAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
