import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * An event as stored. `seq` is dense per stream (1, 2, 3 ...) so a subscriber that resumes
 * with `afterSeq` misses nothing and sees nothing twice.
 */
@Entity('events')
@Index(['stream', 'seq'], { unique: true })
// Retention deletes the oldest first.
@Index('events_created_idx', ['createdAt'])
export class StoredEventEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'varchar', length: 128 })
  stream!: string;

  @Column({ type: 'integer' })
  seq!: number;

  @Index()
  @Column({ type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}

/** The last sequence number handed out per stream; its row lock serialises publishers. */
@Entity('event_streams')
export class EventStreamEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  stream!: string;

  @Column({ type: 'integer' })
  lastSeq!: number;
}
