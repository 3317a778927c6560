import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { CloudHealth, CredentialKind } from '../enums';
import { numberTransformer } from './transformers';
import { TenantEntity } from './tenant.entity';

export interface Label {
  key: string;
  value: string;
}

/** Names or ids used when booting clones in this cloud. */
export interface CloudDefaults {
  network: string | null;
  floatingNetwork: string | null;
  flavor: string | null;
  availabilityZone: string | null;
}

/** Endpoints found in the Keystone catalog at registration. */
export interface CatalogEndpoint {
  type: string;
  url: string;
}

/** A registered OpenStack cloud. Credentials are AES-256-GCM ciphertext and never read back out. */
@Entity('clouds')
// Names are unique among a tenant's registered clouds; a deregistered cloud frees its name.
@Index('clouds_tenant_name_active_uq', ['tenantId', 'name'], { unique: true, where: 'deregistered_at IS NULL' })
export class CloudEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @ManyToOne(() => TenantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: TenantEntity;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 512 })
  authUrl!: string;

  @Column({ type: 'varchar', length: 64 })
  region!: string;

  @Column({ type: 'varchar', length: 32 })
  credentialKind!: CredentialKind;

  @Column({ type: 'bytea' })
  credentialsCiphertext!: Buffer;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  labels!: Label[];

  @Column({ type: 'integer' })
  bandwidthMbps!: number;

  @Column({ type: 'numeric', precision: 12, scale: 4, transformer: numberTransformer })
  costPerHour!: number;

  @Column({ type: 'text', array: true, default: () => "'{qcow2,raw}'" })
  diskFormats!: string[];

  @Column({ type: 'jsonb', default: () => "'{}'" })
  defaults!: CloudDefaults;

  /** Offered to every tenant of the federation as a clone target. */
  @Column({ type: 'boolean', default: false })
  shared!: boolean;

  /** Flavors (names or ids) a guest tenant's VM type may ask for here; otherwise guests get `defaults.flavor`. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  guestFlavors!: string[];

  /** Networks (names or ids) a guest tenant's VM type may ask for here; otherwise guests get `defaults.network`. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  guestNetworks!: string[];

  @Column({ type: 'jsonb', default: () => "'[]'" })
  catalog!: CatalogEndpoint[];

  @Column({ type: 'varchar', length: 16, default: CloudHealth.UNKNOWN })
  health!: CloudHealth;

  @Column({ type: 'varchar', length: 512, nullable: true })
  healthMessage!: string | null;

  @Column({ type: 'integer', nullable: true })
  healthLatencyMs!: number | null;

  @Column({ type: 'timestamptz', nullable: true })
  healthCheckedAt!: Date | null;

  /** The transfer agent beside this cloud (npm run agent); null: the broker plays this side of a chunked transfer. */
  @Column({ type: 'varchar', length: 512, nullable: true })
  transferAgentUrl!: string | null;

  /** Set by deregisterCloud: the row stays for the history of jobs that used it; its credentials are wiped. */
  @Column({ type: 'timestamptz', nullable: true })
  deregisteredAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
