import { MigrationInterface, QueryRunner } from "typeorm";

export class StandbyKeepFresh1796677900000 implements MigrationInterface {
    name = 'StandbyKeepFresh1796677900000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "standby_images"
            ADD "keep_fresh" boolean NOT NULL DEFAULT false
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs"
            ADD "keep_fresh" boolean NOT NULL DEFAULT false
        `);
        await queryRunner.query(`
            CREATE INDEX "standby_images_tenant_created_idx" ON "standby_images" ("tenant_id", "created_at")
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            DROP INDEX "public"."standby_images_tenant_created_idx"
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs" DROP COLUMN "keep_fresh"
        `);
        await queryRunner.query(`
            ALTER TABLE "standby_images" DROP COLUMN "keep_fresh"
        `);
    }

}
