import { MigrationInterface, QueryRunner } from "typeorm";

export class SipIntegrations1796161246440 implements MigrationInterface {
    name = 'SipIntegrations1796161246440'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE TABLE "load_balancers" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "name" character varying(64) NOT NULL,
                "kind" character varying(32) NOT NULL,
                "db_host" character varying(253) NOT NULL,
                "db_port" integer NOT NULL,
                "db_user" character varying(80) NOT NULL,
                "db_password_ciphertext" bytea NOT NULL,
                "db_name" character varying(64) NOT NULL,
                "table_name" character varying(64) NOT NULL,
                "rpc_url" character varying(512) NOT NULL,
                "reload_method" character varying(64) NOT NULL,
                "list_method" character varying(64),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_b6777365746cffab90a3ef3353c" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_bd7671e6cbc18333e17704dde8" ON "load_balancers" ("tenant_id", "name")
        `);
        await queryRunner.query(`
            CREATE TABLE "ssh_keys" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "name" character varying(64) NOT NULL,
                "username" character varying(32) NOT NULL,
                "algorithm" character varying(32) NOT NULL,
                "public_key" text NOT NULL,
                "fingerprint" character varying(64) NOT NULL,
                "private_key_ciphertext" bytea NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_8d68194272e979ab2d77700b1a4" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_e9ba595ff5e0ec423e2acb20fa" ON "ssh_keys" ("tenant_id", "name")
        `);
        await queryRunner.query(`
            CREATE TABLE "monitoring_servers" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "name" character varying(64) NOT NULL,
                "status_url" character varying(512) NOT NULL,
                "username" character varying(255) NOT NULL,
                "password_ciphertext" bytea NOT NULL,
                "ssh_host" character varying(253) NOT NULL,
                "ssh_port" integer NOT NULL,
                "ssh_key_id" uuid NOT NULL,
                "ssh_host_key_algorithm" character varying(32),
                "ssh_host_key_fingerprint" character varying(64) NOT NULL,
                "config_dir" character varying(512) NOT NULL,
                "verify_command" text array NOT NULL,
                "pid_file" character varying(512) NOT NULL,
                "health" character varying(16) NOT NULL DEFAULT 'UNKNOWN',
                "last_error" character varying(512),
                "last_polled_at" TIMESTAMP WITH TIME ZONE,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_d3fc6df70422c277e4f914dcf23" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_69aaa74cee5cb10001d782e915" ON "monitoring_servers" ("tenant_id", "name")
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP COLUMN "drain_timeout_seconds"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP COLUMN "drain_timeout_action"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD "ssh_key_id" uuid
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD "monitoring_server_id" uuid
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD "load_balancer_id" uuid
        `);
        await queryRunner.query(`
            ALTER TABLE "vms"
            ADD "ssh_host_key_algorithm" character varying(32)
        `);
        await queryRunner.query(`
            ALTER TABLE "vms"
            ADD "ssh_host_key_source" character varying(16)
        `);
        await queryRunner.query(`
            ALTER TABLE "vms"
            ADD "ssh_host_key_note" character varying(512)
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_a76d809a2a2cde14d8cb5a7cc0" ON "vm_types" ("ssh_key_id")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_f0058244d47991a8cce247e00e" ON "vm_types" ("monitoring_server_id")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_78821b76eb345584a0838af5ea" ON "vm_types" ("load_balancer_id")
        `);
        await queryRunner.query(`
            ALTER TABLE "load_balancers"
            ADD CONSTRAINT "FK_d4268d691141599cd0eac2eec6c" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "ssh_keys"
            ADD CONSTRAINT "FK_4f0f9b63abc96494ecc7b162efe" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "monitoring_servers"
            ADD CONSTRAINT "FK_fbd5a2e91e69c6d499968586017" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "monitoring_servers"
            ADD CONSTRAINT "FK_b1d4b81beae7030b9c6a90c857f" FOREIGN KEY ("ssh_key_id") REFERENCES "ssh_keys"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD CONSTRAINT "FK_a76d809a2a2cde14d8cb5a7cc08" FOREIGN KEY ("ssh_key_id") REFERENCES "ssh_keys"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD CONSTRAINT "FK_f0058244d47991a8cce247e00e9" FOREIGN KEY ("monitoring_server_id") REFERENCES "monitoring_servers"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD CONSTRAINT "FK_78821b76eb345584a0838af5ea1" FOREIGN KEY ("load_balancer_id") REFERENCES "load_balancers"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP CONSTRAINT "FK_78821b76eb345584a0838af5ea1"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP CONSTRAINT "FK_f0058244d47991a8cce247e00e9"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP CONSTRAINT "FK_a76d809a2a2cde14d8cb5a7cc08"
        `);
        await queryRunner.query(`
            ALTER TABLE "monitoring_servers" DROP CONSTRAINT "FK_b1d4b81beae7030b9c6a90c857f"
        `);
        await queryRunner.query(`
            ALTER TABLE "monitoring_servers" DROP CONSTRAINT "FK_fbd5a2e91e69c6d499968586017"
        `);
        await queryRunner.query(`
            ALTER TABLE "ssh_keys" DROP CONSTRAINT "FK_4f0f9b63abc96494ecc7b162efe"
        `);
        await queryRunner.query(`
            ALTER TABLE "load_balancers" DROP CONSTRAINT "FK_d4268d691141599cd0eac2eec6c"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_78821b76eb345584a0838af5ea"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_f0058244d47991a8cce247e00e"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_a76d809a2a2cde14d8cb5a7cc0"
        `);
        await queryRunner.query(`
            ALTER TABLE "vms" DROP COLUMN "ssh_host_key_note"
        `);
        await queryRunner.query(`
            ALTER TABLE "vms" DROP COLUMN "ssh_host_key_source"
        `);
        await queryRunner.query(`
            ALTER TABLE "vms" DROP COLUMN "ssh_host_key_algorithm"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP COLUMN "load_balancer_id"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP COLUMN "monitoring_server_id"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP COLUMN "ssh_key_id"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD "drain_timeout_action" character varying(16) NOT NULL DEFAULT 'FORCE_REMOVE'
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD "drain_timeout_seconds" integer NOT NULL DEFAULT '300'
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_69aaa74cee5cb10001d782e915"
        `);
        await queryRunner.query(`
            DROP TABLE "monitoring_servers"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_e9ba595ff5e0ec423e2acb20fa"
        `);
        await queryRunner.query(`
            DROP TABLE "ssh_keys"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_bd7671e6cbc18333e17704dde8"
        `);
        await queryRunner.query(`
            DROP TABLE "load_balancers"
        `);
    }

}
