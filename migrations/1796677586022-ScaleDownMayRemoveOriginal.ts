import { MigrationInterface, QueryRunner } from "typeorm";

export class ScaleDownMayRemoveOriginal1796677586022 implements MigrationInterface {
    name = 'ScaleDownMayRemoveOriginal1796677586022'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD "scale_down_may_remove_original" boolean NOT NULL DEFAULT false
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP COLUMN "scale_down_may_remove_original"
        `);
    }

}
