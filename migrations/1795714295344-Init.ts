import { MigrationInterface, QueryRunner } from "typeorm";

export class Init1795714295344 implements MigrationInterface {
    name = 'Init1795714295344'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            CREATE TABLE "tenants" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "name" character varying(64) NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "UQ_32731f181236a46182a38c992a8" UNIQUE ("name"),
                CONSTRAINT "PK_53be67a04681c66b87ee27c9321" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE TABLE "api_tokens" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "name" character varying(64) NOT NULL,
                "role" character varying(16) NOT NULL,
                "secret_hash" character(64) NOT NULL,
                "created_by_token_id" uuid,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "last_used_at" TIMESTAMP WITH TIME ZONE,
                "revoked_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_c587455266b5fa8dace7194caac" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_2c3be6b98e872975a45a982507" ON "api_tokens" ("tenant_id")
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_7e7249acb8127967fc6b8907d6" ON "api_tokens" ("secret_hash")
        `);
        await queryRunner.query(`
            CREATE TABLE "audit_log" (
                "id" BIGSERIAL NOT NULL,
                "tenant_id" uuid NOT NULL,
                "seq" integer NOT NULL,
                "actor_token_id" uuid,
                "action" character varying(64) NOT NULL,
                "object_type" character varying(32) NOT NULL,
                "object_id" character varying(64) NOT NULL,
                "details" jsonb NOT NULL DEFAULT '{}',
                "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_07fefa57f7f5ab8fc3f52b3ed0b" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_9b2009ebd08e920fe1c0c9f1ff" ON "audit_log" ("tenant_id", "at")
        `);
        await queryRunner.query(`
            CREATE TABLE "clouds" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "name" character varying(64) NOT NULL,
                "auth_url" character varying(512) NOT NULL,
                "region" character varying(64) NOT NULL,
                "credential_kind" character varying(32) NOT NULL,
                "credentials_ciphertext" bytea NOT NULL,
                "labels" jsonb NOT NULL DEFAULT '[]',
                "bandwidth_mbps" integer NOT NULL,
                "cost_per_hour" numeric(12, 4) NOT NULL,
                "disk_formats" text array NOT NULL DEFAULT '{qcow2,raw}',
                "defaults" jsonb NOT NULL DEFAULT '{}',
                "shared" boolean NOT NULL DEFAULT false,
                "catalog" jsonb NOT NULL DEFAULT '[]',
                "health" character varying(16) NOT NULL DEFAULT 'UNKNOWN',
                "health_message" character varying(512),
                "health_latency_ms" integer,
                "health_checked_at" TIMESTAMP WITH TIME ZONE,
                "deregistered_at" TIMESTAMP WITH TIME ZONE,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_48c5a59de00c45507a6f64b1f91" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "clouds_tenant_name_active_uq" ON "clouds" ("tenant_id", "name")
            WHERE deregistered_at IS NULL
        `);
        await queryRunner.query(`
            CREATE TABLE "vm_types" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "name" character varying(64) NOT NULL,
                "min_instances" integer NOT NULL,
                "max_instances" integer NOT NULL,
                "scale_up_cooldown_seconds" integer NOT NULL DEFAULT '300',
                "scale_down_cooldown_seconds" integer NOT NULL DEFAULT '600',
                "flavor_hint" character varying(255),
                "network_hint" character varying(255),
                "configure_recipe" jsonb,
                "monitoring" jsonb,
                "load_balancer" jsonb,
                "drain_timeout_seconds" integer NOT NULL DEFAULT '300',
                "drain_timeout_action" character varying(16) NOT NULL DEFAULT 'FORCE_REMOVE',
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_0929711ebeff6d4b54dfab116ef" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_c0d40eb7bff6f9c41d2eba0879" ON "vm_types" ("tenant_id", "name")
        `);
        await queryRunner.query(`
            CREATE TABLE "vms" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "vm_type_id" uuid,
                "cloud_id" uuid NOT NULL,
                "server_id" character varying(64) NOT NULL,
                "name" character varying(255) NOT NULL,
                "addresses" jsonb NOT NULL DEFAULT '[]',
                "state" character varying(32) NOT NULL,
                "ssh_host_key_fingerprint" character varying(128),
                "origin" character varying(16) NOT NULL,
                "source_vm_id" uuid,
                "clone_job_id" uuid,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_cc4544535b57023c558e999ceb8" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_caeff27c473f4b919cfca5e576" ON "vms" ("tenant_id")
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_8741d00c9d19d883358b3b08c1" ON "vms" ("vm_type_id")
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_910884867944c88da098688dba" ON "vms" ("cloud_id", "server_id")
        `);
        await queryRunner.query(`
            CREATE TABLE "clone_jobs" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "idempotency_key" character varying(128) NOT NULL,
                "name" character varying(255) NOT NULL,
                "source_vm_id" uuid NOT NULL,
                "source_cloud_id" uuid NOT NULL,
                "target_cloud_id" uuid NOT NULL,
                "phase" character varying(16) NOT NULL,
                "state" character varying(16) NOT NULL,
                "bytes_total" bigint,
                "bytes_transferred" bigint NOT NULL DEFAULT '0',
                "phases" jsonb NOT NULL DEFAULT '[]',
                "artefacts" jsonb NOT NULL DEFAULT '{}',
                "error_code" character varying(32),
                "error_message" text,
                "result_vm_id" uuid,
                "requested_by_token_id" uuid,
                "lease_owner" character varying(64),
                "lease_expires_at" TIMESTAMP WITH TIME ZONE,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "finished_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_ad032cf1e5c6c4a4ec80276c094" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "clone_jobs_state_lease_idx" ON "clone_jobs" ("state", "lease_expires_at")
        `);
        await queryRunner.query(`
            CREATE INDEX "clone_jobs_tenant_created_idx" ON "clone_jobs" ("tenant_id", "created_at", "id")
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_a84e36cc94634d83b837f5d0bd" ON "clone_jobs" ("tenant_id", "idempotency_key")
        `);
        await queryRunner.query(`
            CREATE TABLE "metrics" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "name" character varying(128) NOT NULL,
                "nagios_service" character varying(128),
                "unit" character varying(32),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_5283cad666a83376e28a715bf0e" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_6bbf9f7750b2ec9c3209d192d4" ON "metrics" ("tenant_id", "name")
        `);
        await queryRunner.query(`
            CREATE TABLE "policies" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "vm_type_id" uuid,
                "name" character varying(64) NOT NULL,
                "allow_cloud_ids" uuid array NOT NULL DEFAULT '{}',
                "deny_cloud_ids" uuid array NOT NULL DEFAULT '{}',
                "required_labels" jsonb NOT NULL DEFAULT '[]',
                "home_cloud_only" boolean NOT NULL DEFAULT false,
                "max_cost_per_hour" numeric(12, 4),
                "min_bandwidth_mbps" integer,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_603e09f183df0108d8695c57e28" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_eaf216e082745657647e0619af" ON "policies" ("tenant_id", "name")
        `);
        await queryRunner.query(`
            CREATE TABLE "samples" (
                "id" BIGSERIAL NOT NULL,
                "tenant_id" uuid NOT NULL,
                "vm_id" uuid NOT NULL,
                "metric" character varying(128) NOT NULL,
                "state" character varying(16) NOT NULL,
                "value" double precision,
                "observed_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                "source" character varying(16) NOT NULL,
                "recorded_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_d68b5b3bd25a6851b033fb63444" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "samples_vm_metric_observed_idx" ON "samples" ("vm_id", "metric", "observed_at")
        `);
        await queryRunner.query(`
            CREATE TABLE "scaling_decisions" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" uuid NOT NULL,
                "vm_type_id" uuid NOT NULL,
                "action" character varying(16) NOT NULL,
                "metric" character varying(128),
                "reason" text NOT NULL,
                "evidence" jsonb NOT NULL DEFAULT '{}',
                "clone_job_id" uuid,
                "decided_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_521239f93bf0103658211636fe8" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_dfb12add06561227f682af5ed2" ON "scaling_decisions" ("tenant_id", "vm_type_id", "decided_at")
        `);
        await queryRunner.query(`
            CREATE TABLE "events" (
                "id" BIGSERIAL NOT NULL,
                "stream" character varying(128) NOT NULL,
                "seq" integer NOT NULL,
                "tenant_id" uuid NOT NULL,
                "type" character varying(64) NOT NULL,
                "payload" jsonb NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_40731c7151fe4be3116e45ddf73" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE INDEX "IDX_098a5d310151924de7369f1336" ON "events" ("tenant_id")
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_352098089ca8c1aa76fa38c125" ON "events" ("stream", "seq")
        `);
        await queryRunner.query(`
            CREATE TABLE "event_streams" (
                "stream" character varying(128) NOT NULL,
                "last_seq" integer NOT NULL,
                CONSTRAINT "PK_1eecd97a2a2205fe17b6f1bb8a3" PRIMARY KEY ("stream")
            )
        `);
        await queryRunner.query(`
            CREATE TABLE "thresholds" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "vm_type_id" uuid NOT NULL,
                "metric" character varying(128) NOT NULL,
                "active" boolean NOT NULL,
                "warning_hold_seconds" integer NOT NULL,
                "critical_hold_seconds" integer NOT NULL,
                "role" character varying(16) NOT NULL,
                "prepare_on_warning" boolean NOT NULL DEFAULT false,
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_99586c2ba61a0e7056915851d8c" PRIMARY KEY ("id")
            )
        `);
        await queryRunner.query(`
            CREATE UNIQUE INDEX "IDX_9c7b15f18098abbe268df8b8b0" ON "thresholds" ("vm_type_id", "metric")
        `);
        await queryRunner.query(`
            ALTER TABLE "api_tokens"
            ADD CONSTRAINT "FK_2c3be6b98e872975a45a982507b" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "clouds"
            ADD CONSTRAINT "FK_58ddf99fd5cfa760c848548897f" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types"
            ADD CONSTRAINT "FK_055868981fa170655dbb223f723" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "vms"
            ADD CONSTRAINT "FK_8741d00c9d19d883358b3b08c1b" FOREIGN KEY ("vm_type_id") REFERENCES "vm_types"("id") ON DELETE
            SET NULL ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "vms"
            ADD CONSTRAINT "FK_d76f0e64579dab7b6a6776ead45" FOREIGN KEY ("cloud_id") REFERENCES "clouds"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs"
            ADD CONSTRAINT "FK_6bdd83f7175b8c30399ee4428ab" FOREIGN KEY ("source_vm_id") REFERENCES "vms"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs"
            ADD CONSTRAINT "FK_b595f3386ed4ae0dc2ac4492668" FOREIGN KEY ("target_cloud_id") REFERENCES "clouds"("id") ON DELETE RESTRICT ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "metrics"
            ADD CONSTRAINT "FK_d04a8dbcdec664e536bc8760d0b" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "policies"
            ADD CONSTRAINT "FK_75f68db920e0f61572ba3866472" FOREIGN KEY ("vm_type_id") REFERENCES "vm_types"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "samples"
            ADD CONSTRAINT "FK_ca18f8d2c473e5d729fcf904264" FOREIGN KEY ("vm_id") REFERENCES "vms"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
        await queryRunner.query(`
            ALTER TABLE "thresholds"
            ADD CONSTRAINT "FK_0583a4d680215c55c982e72c4b0" FOREIGN KEY ("vm_type_id") REFERENCES "vm_types"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            ALTER TABLE "thresholds" DROP CONSTRAINT "FK_0583a4d680215c55c982e72c4b0"
        `);
        await queryRunner.query(`
            ALTER TABLE "samples" DROP CONSTRAINT "FK_ca18f8d2c473e5d729fcf904264"
        `);
        await queryRunner.query(`
            ALTER TABLE "policies" DROP CONSTRAINT "FK_75f68db920e0f61572ba3866472"
        `);
        await queryRunner.query(`
            ALTER TABLE "metrics" DROP CONSTRAINT "FK_d04a8dbcdec664e536bc8760d0b"
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs" DROP CONSTRAINT "FK_b595f3386ed4ae0dc2ac4492668"
        `);
        await queryRunner.query(`
            ALTER TABLE "clone_jobs" DROP CONSTRAINT "FK_6bdd83f7175b8c30399ee4428ab"
        `);
        await queryRunner.query(`
            ALTER TABLE "vms" DROP CONSTRAINT "FK_d76f0e64579dab7b6a6776ead45"
        `);
        await queryRunner.query(`
            ALTER TABLE "vms" DROP CONSTRAINT "FK_8741d00c9d19d883358b3b08c1b"
        `);
        await queryRunner.query(`
            ALTER TABLE "vm_types" DROP CONSTRAINT "FK_055868981fa170655dbb223f723"
        `);
        await queryRunner.query(`
            ALTER TABLE "clouds" DROP CONSTRAINT "FK_58ddf99fd5cfa760c848548897f"
        `);
        await queryRunner.query(`
            ALTER TABLE "api_tokens" DROP CONSTRAINT "FK_2c3be6b98e872975a45a982507b"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_9c7b15f18098abbe268df8b8b0"
        `);
        await queryRunner.query(`
            DROP TABLE "thresholds"
        `);
        await queryRunner.query(`
            DROP TABLE "event_streams"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_352098089ca8c1aa76fa38c125"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_098a5d310151924de7369f1336"
        `);
        await queryRunner.query(`
            DROP TABLE "events"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_dfb12add06561227f682af5ed2"
        `);
        await queryRunner.query(`
            DROP TABLE "scaling_decisions"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."samples_vm_metric_observed_idx"
        `);
        await queryRunner.query(`
            DROP TABLE "samples"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_eaf216e082745657647e0619af"
        `);
        await queryRunner.query(`
            DROP TABLE "policies"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_6bbf9f7750b2ec9c3209d192d4"
        `);
        await queryRunner.query(`
            DROP TABLE "metrics"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_a84e36cc94634d83b837f5d0bd"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."clone_jobs_tenant_created_idx"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."clone_jobs_state_lease_idx"
        `);
        await queryRunner.query(`
            DROP TABLE "clone_jobs"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_910884867944c88da098688dba"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_8741d00c9d19d883358b3b08c1"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_caeff27c473f4b919cfca5e576"
        `);
        await queryRunner.query(`
            DROP TABLE "vms"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_c0d40eb7bff6f9c41d2eba0879"
        `);
        await queryRunner.query(`
            DROP TABLE "vm_types"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."clouds_tenant_name_active_uq"
        `);
        await queryRunner.query(`
            DROP TABLE "clouds"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_9b2009ebd08e920fe1c0c9f1ff"
        `);
        await queryRunner.query(`
            DROP TABLE "audit_log"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_7e7249acb8127967fc6b8907d6"
        `);
        await queryRunner.query(`
            DROP INDEX "public"."IDX_2c3be6b98e872975a45a982507"
        `);
        await queryRunner.query(`
            DROP TABLE "api_tokens"
        `);
        await queryRunner.query(`
            DROP TABLE "tenants"
        `);
    }

}
