import { BeforeInsert, Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { HostKeySource, VmOrigin } from '../enums';
import { CloudEntity } from './cloud.entity';
import { VmTypeEntity } from './vm-type.entity';

export interface VmAddress {
  network: string;
  address: string;
  /** `fixed` or `floating`, as Nova reports it. */
  kind: string;
  version: number;
}

/** An instance the broker knows: imported from a cloud or created by a clone. */
@Entity('vms')
@Index(['cloudId', 'serverId'], { unique: true })
export class VmEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index()
  @Column({ type: 'uuid' })
  tenantId!: string;

  @Index()
  @Column({ type: 'uuid', nullable: true })
  vmTypeId!: string | null;

  @ManyToOne(() => VmTypeEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'vm_type_id' })
  vmType?: VmTypeEntity;

  @Column({ type: 'uuid' })
  cloudId!: string;

  @ManyToOne(() => CloudEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'cloud_id' })
  cloud?: CloudEntity;

  /** The server's id in its cloud (Nova). */
  @Column({ type: 'varchar', length: 64 })
  serverId!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  addresses!: VmAddress[];

  @Column({ type: 'varchar', length: 32 })
  state!: string;

  /** SHA256 fingerprint of the pinned SSH host key, as `ssh-keygen -lf` prints it; null: none pinned. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  sshHostKeyFingerprint!: string | null;

  /** The pinned key's algorithm (ssh-ed25519, ...); null when only its fingerprint is known. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  sshHostKeyAlgorithm!: string | null;

  /** Where the pinned key came from; set whenever a fingerprint is. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  sshHostKeySource!: HostKeySource | null;

  /** Why no host key is pinned (e.g. the server did not answer at import), for the tenant to read. */
  @Column({ type: 'varchar', length: 512, nullable: true })
  sshHostKeyNote!: string | null;

  @Column({ type: 'varchar', length: 16 })
  origin!: VmOrigin;

  @Column({ type: 'uuid', nullable: true })
  sourceVmId!: string | null;

  @Column({ type: 'uuid', nullable: true })
  cloneJobId!: string | null;

  /**
   * Set when the VM's cloud was deregistered or stopped being shared with the VM's tenant: the
   * broker no longer manages it (no clones from it, no scaling), the row stays for history.
   */
  @Column({ type: 'timestamptz', nullable: true })
  retiredAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  /**
   * A pinned key always says where it came from. A clone created with only its source's
   * fingerprint (see inheritedHostKey for the whole key) inherited it.
   */
  @BeforeInsert()
  sayWhereTheHostKeyCameFrom(): void {
    if (this.sshHostKeyFingerprint && !this.sshHostKeySource) {
      this.sshHostKeySource = this.origin === VmOrigin.CLONE ? HostKeySource.CLONED : HostKeySource.IMPORTED;
    }
  }
}
