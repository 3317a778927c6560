import { MigrationInterface, QueryRunner } from "typeorm";

export class ScaleDownJobs1796161910191 implements MigrationInterface {
    name = 'ScaleDownJobs1796161910191'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE TABLE "scale_down_jobs" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "vm_id" uuid NOT NULL,
                "vm_type_id" uuid,
                "reason" text,
                "phase" character varying(16) NOT NULL,
                "state" character varying(16) NOT NULL,
                "phases" jsonb NOT NULL DEFAULT '[]',
                "artefacts" jsonb NOT NULL DEFAULT '{}',
                "error_code" character varying(32),
                "error_message" text,
                "requested_by_token_id" uuid,
                "lease_owner" character varying(64),
                "lease_expires_at" TIMESTAMP WITH TIME ZONE,
                "runner_failures" integer NOT NULL DEFAULT '0',
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "finished_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_9c5d94bc03e6377b0c4ecd05c55" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "scale_down_jobs_vm_live_uq" ON "scale_down_jobs" ("vm_id")
            WHERE state NOT IN ('DONE', 'FAILED', 'CANCELLED')
        `);
        await queryRunner.query(`
            CREATE INDEX "scale_down_jobs_state_lease_idx" ON "scale_down_jobs" ("state", "lease_expires_at")
        `);
        await queryRunner.query(`
            CREATE INDEX "scale_down_jobs_tenant_created_idx" ON "scale_down_jobs" ("tenant_id", "created_at", "id")
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            DROP INDEX "public"."scale_down_jobs_tenant_created_idx"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."scale_down_jobs_state_lease_idx"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."scale_down_jobs_vm_live_uq"
        `);
        await queryRunner.query(`
            DROP TABLE "scale_down_jobs"
        `);
    }

}
