import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The autoscaler's tick finds the series that can hold (WARNING or CRITICAL in the hold window)
 * from the few such samples, instead of probing every series of the fleet (issue 12 part 3):
 * a partial index of only those samples, by time. OK and UNKNOWN samples (most of them) are not
 * in it, so ingestion barely pays for it.
 */
export class SamplesHeldIndex1796800000000 implements MigrationInterface {
    name = 'SamplesHeldIndex1796800000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE INDEX "samples_held_observed_idx" ON "samples" ("observed_at", "vm_id", "metric")
            WHERE state IN ('WARNING', 'CRITICAL')
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            DROP INDEX "public"."samples_held_observed_idx"
        `);
    }
}
