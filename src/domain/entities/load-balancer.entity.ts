import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { LoadBalancerKind } from '../enums';
import { TenantEntity } from './tenant.entity';

/**
 * A tenant's SIP load balancer: its destinations table in MySQL/MariaDB (Kamailio `dispatcher` or
 * OpenSIPS `load_balancer`) and its JSON-RPC endpoint for reloads. The database password is
 * sealed together with the host and port it may be sent to.
 */
@Entity('load_balancers')
@Index(['tenantId', 'name'], { unique: true })
export class LoadBalancerEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @ManyToOne(() => TenantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: TenantEntity;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 32 })
  kind!: LoadBalancerKind;

  @Column({ type: 'varchar', length: 253 })
  dbHost!: string;

  @Column({ type: 'integer' })
  dbPort!: number;

  @Column({ type: 'varchar', length: 80 })
  dbUser!: string;

  /** Sealed `{ v: 1, host, port, password }`. */
  @Column({ type: 'bytea' })
  dbPasswordCiphertext!: Buffer;

  @Column({ type: 'varchar', length: 64 })
  dbName!: string;

  @Column({ type: 'varchar', length: 64 })
  tableName!: string;

  @Column({ type: 'varchar', length: 512 })
  rpcUrl!: string;

  @Column({ type: 'varchar', length: 64 })
  reloadMethod!: string;

  /** Null when the balancer has no list call (OpenSIPS): the step re-reads the table instead. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  listMethod!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
