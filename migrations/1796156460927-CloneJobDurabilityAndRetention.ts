import { MigrationInterface, QueryRunner } from "typeorm";

export class CloneJobDurabilityAndRetention1796156460927 implements MigrationInterface {
    name = 'CloneJobDurabilityAndRetention1796156460927'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clone_jobs"
            ADD "runner_failures" integer NOT NULL DEFAULT '0'
        `);
        await queryRunner.query(`
            CREATE INDEX "audit_log_at_idx" ON "audit_log" ("at")
        `);
        await queryRunner.query(`
            CREATE INDEX "samples_observed_idx" ON "samples" ("observed_at")
        `);
        await queryRunner.query(`
            CREATE INDEX "events_created_idx" ON "events" ("created_at")
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            DROP INDEX "public"."events_created_idx"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."samples_observed_idx"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."audit_log_at_idx"
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs" DROP COLUMN "runner_failures"
        `);
    }

}
