import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Data only (written by hand: a schema diff cannot say what old values mean). Before
 * SipIntegrations, a VM type's configure_recipe, monitoring and load_balancer held draft shapes
 * that named nothing the broker has: a recipe without an SSH key (sshUser), a Nagios host template
 * by name without a server, a load balancer `target` in a configuration that never existed. No
 * such value can be turned into a binding of the new shape (each needs the id of an SshKey,
 * MonitoringServer or LoadBalancer the tenant registers first), so they are cleared: the VM type
 * then skips that phase until the tenant binds it again. A value that already has the new shape
 * (its id key) is left alone, so running this after new bindings were written changes nothing.
 *
 * VMs that already had a pinned fingerprint say where it came from (a clone inherited it, anything
 * else was recorded at import); VMs without one get a note saying how to pin one.
 */
export class DraftSipBindingsCleared1796161259476 implements MigrationInterface {
    name = 'DraftSipBindingsCleared1796161259476'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
            UPDATE "vm_types" SET "configure_recipe" = NULL
            WHERE "configure_recipe" IS NOT NULL AND NOT ("configure_recipe" ? 'sshKeyId')
        `);
        await queryRunner.query(`
            UPDATE "vm_types" SET "monitoring" = NULL
            WHERE "monitoring" IS NOT NULL AND NOT ("monitoring" ? 'serverId')
        `);
        await queryRunner.query(`
            UPDATE "vm_types" SET "load_balancer" = NULL
            WHERE "load_balancer" IS NOT NULL AND NOT ("load_balancer" ? 'loadBalancerId')
        `);
        await queryRunner.query(`
            UPDATE "vms" SET "ssh_host_key_source" = CASE WHEN "origin" = 'CLONE' THEN 'CLONED' ELSE 'IMPORTED' END
            WHERE "ssh_host_key_fingerprint" IS NOT NULL AND "ssh_host_key_source" IS NULL
        `);
        await queryRunner.query(`
            UPDATE "vms" SET "ssh_host_key_note" = 'no host key pinned: the VM is older than host key pinning; pin it with setVmHostKey before the VM is cloned (CONFIGURE refuses to run without one)'
            WHERE "ssh_host_key_fingerprint" IS NULL AND "ssh_host_key_note" IS NULL
        `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        // The draft values are gone and cannot come back; the columns this filled are dropped by
        // SipIntegrations' down. Nothing to undo here.
    }

}
