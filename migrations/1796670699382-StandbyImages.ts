import { MigrationInterface, QueryRunner } from "typeorm";

export class StandbyImages1796670699382 implements MigrationInterface {
    name = 'StandbyImages1796670699382'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE TABLE "standby_images" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "vm_type_id" uuid NOT NULL,
                "cloud_id" uuid NOT NULL,
                "image_id" character varying(64) NOT NULL,
                "source_vm_id" uuid NOT NULL,
                "created_by_job_id" uuid NOT NULL,
                "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                "deleted_at" TIMESTAMP WITH TIME ZONE,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_4c8ba5b88f9c57f4e83a73309a6" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "standby_images_type_cloud_idx" ON "standby_images" ("vm_type_id", "cloud_id", "expires_at")
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs"
            ADD "purpose" character varying(16) NOT NULL DEFAULT 'CLONE'
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs"
            ADD "standby_image_id" uuid
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clone_jobs" DROP COLUMN "standby_image_id"
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs" DROP COLUMN "purpose"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."standby_images_type_cloud_idx"
        `);
        await queryRunner.query(`
            DROP TABLE "standby_images"
        `);
    }

}
