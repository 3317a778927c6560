import { MigrationInterface, QueryRunner } from "typeorm";

export class CloudGuestAllowLists1796157955712 implements MigrationInterface {
    name = 'CloudGuestAllowLists1796157955712'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clouds"
            ADD "guest_flavors" text array NOT NULL DEFAULT '{}'
        `);
        await queryRunner.query(`
            ALTER TABLE "clouds"
            ADD "guest_networks" text array NOT NULL DEFAULT '{}'
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clouds" DROP COLUMN "guest_networks"
        `);
        await queryRunner.query(`
            ALTER TABLE "clouds" DROP COLUMN "guest_flavors"
        `);
    }

}
