import { MigrationInterface, QueryRunner } from "typeorm";

export class VmRetirement1796157492980 implements MigrationInterface {
    name = 'VmRetirement1796157492980'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "vms"
            ADD "retired_at" TIMESTAMP WITH TIME ZONE
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "vms" DROP COLUMN "retired_at"
        `);
    }

}
