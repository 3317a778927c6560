import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The VM type on the clone job itself: the autoscaler counts a type's clones in flight and learns
 * its clone times without joining every job to its source VM, and a job keeps its type even if the
 * source VM's type is later changed. Existing jobs take their source VM's type.
 */
export class CloneJobVmType1796680000000 implements MigrationInterface {
    name = 'CloneJobVmType1796680000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clone_jobs"
            ADD "vm_type_id" uuid
        `);
        await queryRunner.query(`
            UPDATE "clone_jobs" j SET "vm_type_id" = v."vm_type_id"
            FROM "vms" v WHERE v."id" = j."source_vm_id" AND j."vm_type_id" IS NULL
        `);
        await queryRunner.query(`
            CREATE INDEX "clone_jobs_type_state_idx" ON "clone_jobs" ("vm_type_id", "state")
        `);
        // The autoscaler reads each type's last decision every tick: by type, newest first.
        await queryRunner.query(`
            CREATE INDEX "scaling_decisions_type_decided_idx" ON "scaling_decisions" ("vm_type_id", "decided_at")
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            DROP INDEX "public"."scaling_decisions_type_decided_idx"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."clone_jobs_type_state_idx"
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs" DROP COLUMN "vm_type_id"
        `);
    }

}
