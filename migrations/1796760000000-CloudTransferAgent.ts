import { MigrationInterface, QueryRunner } from "typeorm";

/** A cloud may name the transfer agent beside it (issue 10); null: the broker plays that side. */
export class CloudTransferAgent1796760000000 implements MigrationInterface {
    name = 'CloudTransferAgent1796760000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clouds"
            ADD "transfer_agent_url" character varying(512)
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "clouds" DROP COLUMN "transfer_agent_url"
        `);
    }
}
