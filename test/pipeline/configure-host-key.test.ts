/**
 * CONFIGURE never trusts a clone's host key on first sight: the clone boots from its source's
 * disk, so the source VM's pinned key is the one to expect, and a source without one stops the
 * step with HOST_KEY_MISSING before any SSH connection, the boot undone. Against sandbox clouds
 * through the API; no SSH peer is needed, which is the point: nothing is there to trust.
 */
import fs from 'node:fs';
import net from 'node:net';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { createSshKey } from '../support/integrations';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { keyPair, tempKeyDir } from '../support/ssh-keys';

jest.setTimeout(120_000);

/** A loopback TCP port nothing listens on (bound, then released). */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });

describe('CONFIGURE without a pinned host key on the source VM', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let src: CloudApi;
  let dst: CloudApi;
  let fx: CloneFixture;
  let dir: string;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('hk-src', 'hk-dst');
    factory = labCloudApiFactory();
    src = sandboxApi(factory, sandbox.cloud('hk-src'));
    dst = sandboxApi(factory, sandbox.cloud('hk-dst'));
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'hk-src', 'hk-dst');
    dir = tempKeyDir('hostkey-missing');
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails with HOST_KEY_MISSING, names the way out, and undoes the boot', async () => {
    const gq = (query: string, variables: Record<string, unknown> = {}) => gqlOk(broker.url, fx.tenant.token, query, variables);
    const key = await createSshKey(broker.url, fx.tenant.token, 'sip-admin', keyPair(dir, 'sip-admin'), { username: 'root' });
    // The recipe's sshd port answers nothing at import, so no key can be read there (trust on first use has nothing to use).
    const { createVmType } = await gq(`mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }`, {
      i: { name: 'opensips-unpinned', minInstances: 1, maxInstances: 3, configureRecipe: { sshKeyId: key.id, sshPort: await closedPort(), commands: [['true']] } },
    });
    const { vmId } = await fx.importNewVm('unpinned-1', undefined, createVmType.id);
    const { vm } = await gq(`query($id: ID!) { vm(id: $id) { sshHostKey { fingerprint } sshHostKeyNote } }`, { id: vmId });
    expect(vm.sshHostKey).toBeNull();
    expect(vm.sshHostKeyNote).toContain('setVmHostKey');

    const { cloneVm } = await gq(`mutation($i: CloneVmInput!) { cloneVm(input: $i) { id } }`, { i: { vmId, targetCloudId: fx.targetCloudId, name: 'unpinned-1-clone' } });
    const job = await waitForJobState(broker.url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED', 'CANCELLED'], 90_000);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('HOST_KEY_MISSING');
    expect(job.error.message).toContain('unpinned-1');
    expect(job.error.message).toContain('setVmHostKey');
    // It got as far as a booted clone, and stopped at CONFIGURE.
    expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(expect.arrayContaining(['BOOT', 'NETWORK', 'CONFIGURE']));
    expect(job.resultVm).toBeNull();

    // Undone: no server, floating IP or image of the job in either cloud, and no clone VM known to the broker.
    expect((await dst.listServers()).filter((s) => s.metadata.intercloud_job === job.id || s.name === 'unpinned-1-clone')).toEqual([]);
    expect(await dst.listImages({ properties: { intercloud_job: job.id } })).toEqual([]);
    expect(await src.listImages({ properties: { intercloud_job: job.id } })).toEqual([]);
    expect(await dst.listFloatingIps()).toEqual([]);
    const { vms } = await gq(`query($t: ID) { vms(vmTypeId: $t) { id } }`, { t: createVmType.id });
    expect(vms.map((v: { id: string }) => v.id)).toEqual([vmId]);
  });
});
