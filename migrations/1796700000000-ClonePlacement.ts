import { MigrationInterface, QueryRunner } from "typeorm";

/** Why the matchmaker chose a clone's target (cloneVm without one): every candidate with its verdict and estimate terms. */
export class ClonePlacement1796700000000 implements MigrationInterface {
    name = 'ClonePlacement1796700000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clone_jobs"
            ADD "placement" jsonb
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clone_jobs" DROP COLUMN "placement"
        `);
    }
}
