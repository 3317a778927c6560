import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * An image of a VM type kept ready in a cloud (prepareStandby): a clone of the type into that
 * cloud boots from it while it is fresh, skipping SNAPSHOT, TRANSFER and IMPORT. Images are
 * immutable, so one standby serves every clone until it expires; then the leader's reaper deletes
 * it from the cloud and sets deletedAt. A standby kept fresh (prepareStandby keepFresh) is
 * replaced by the leader's refresher before it expires (src/domain/standby.ts); the new one
 * carries keepFresh on and the old one expires as usual.
 */
@Entity('standby_images')
@Index('standby_images_type_cloud_idx', ['vmTypeId', 'cloudId', 'expiresAt'])
@Index('standby_images_tenant_created_idx', ['tenantId', 'createdAt'])
export class StandbyImageEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'uuid' })
  vmTypeId!: string;

  /** The cloud the image is in. */
  @Column({ type: 'uuid' })
  cloudId!: string;

  /** Glance id of the image in that cloud. */
  @Column({ type: 'varchar', length: 64 })
  imageId!: string;

  /** The VM whose disk the image holds. */
  @Column({ type: 'uuid' })
  sourceVmId!: string;

  /** The STANDBY clone job that made it. */
  @Column({ type: 'uuid' })
  createdByJobId!: string;

  @Column({ type: 'timestamptz' })
  expiresAt!: Date;

  /** When the reaper deleted the image from the cloud; null while it is there. */
  @Column({ type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;

  /**
   * The leader prepares a successor before this one expires (STANDBY_REFRESH). True on the newest
   * standby of its VM type and cloud only: a successor takes it over once ready; releaseStandby
   * clears it.
   */
  @Column({ type: 'boolean', default: false })
  keepFresh!: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
