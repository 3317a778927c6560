import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Who did what, when, to which object. Never holds a secret. */
@Entity('audit_log')
@Index(['tenantId', 'at'])
// Retention deletes the oldest first, across tenants.
@Index('audit_log_at_idx', ['at'])
export class AuditEntryEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  /** Sequence number of this entry in the tenant's audit event stream (what afterSeq resumes from). */
  @Column({ type: 'integer' })
  seq!: number;

  @Column({ type: 'uuid', nullable: true })
  actorTokenId!: string | null;

  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Column({ type: 'varchar', length: 32 })
  objectType!: string;

  @Column({ type: 'varchar', length: 64 })
  objectId!: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;
}
