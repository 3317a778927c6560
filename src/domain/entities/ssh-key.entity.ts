import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { TenantEntity } from './tenant.entity';

/**
 * A tenant's SSH key pair for reaching its VMs and its Nagios servers. The private key (and its
 * passphrase) is AES-256-GCM ciphertext and is never read back out; the public half is derived.
 */
@Entity('ssh_keys')
@Index(['tenantId', 'name'], { unique: true })
export class SshKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @ManyToOne(() => TenantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: TenantEntity;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  /** The user to log in as. */
  @Column({ type: 'varchar', length: 32 })
  username!: string;

  @Column({ type: 'varchar', length: 32 })
  algorithm!: string;

  /** `<algorithm> <base64>[ <comment>]`, for authorized_keys. */
  @Column({ type: 'text' })
  publicKey!: string;

  @Column({ type: 'varchar', length: 64 })
  fingerprint!: string;

  /** Sealed `{ privateKey, passphrase }`. */
  @Column({ type: 'bytea' })
  privateKeyCiphertext!: Buffer;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
