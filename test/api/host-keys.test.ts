/**
 * Pinned SSH host keys: importVm records the key a real sshd presents at the server's address
 * (a sandbox cloud's Nova says where that is), a server that cannot be reached imports without one
 * and says why, setVmHostKey sets or replaces it, and a clone inherits its source's key.
 */
import fs from 'node:fs';
import { Sandbox } from '../../sandbox';
import { VmEntity } from '../../src/domain/entities';
import { HostKeySource, VmOrigin } from '../../src/domain/enums';
import { inheritedHostKey } from '../../src/domain/sip-bindings';
import { Server } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { createSshKey } from '../support/integrations';
import { bootSandboxServer, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { keyPair, tempKeyDir } from '../support/ssh-keys';
import { freePort, startSshd, Sshd } from '../support/sshd';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';

const VM_FIELDS = 'id name origin sshHostKey { algorithm fingerprint source } sshHostKeyFingerprint sshHostKeyNote addresses { address kind }';
const IMPORT = `mutation($input: ImportVmInput!) { importVm(input: $input) { ${VM_FIELDS} } }`;
const SET_KEY = `mutation($vmId: ID!, $key: String!) { setVmHostKey(vmId: $vmId, key: $key) { ${VM_FIELDS} } }`;

describe('SSH host keys of VMs', () => {
  let sandbox: Sandbox;
  let db: TestDatabase;
  let broker: TestBroker;
  let url: string;
  let op: TenantToken;
  let other: TenantToken;
  let cloudId: string;
  let keyDir: string;
  let sshKeyId: string;
  let server: Server;
  let sshd: Sshd;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('hk-a');
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    url = broker.url;
    op = await createTenantWithToken(url, broker.adminToken, 'host-keys');
    other = await createTenantWithToken(url, broker.adminToken, 'other');
    cloudId = (await gqlOk(url, op.token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, { input: registerCloudInput(sandbox.cloud('hk-a'), 'home') })).registerCloud.id;
    keyDir = tempKeyDir('host-keys');
    sshKeyId = (await createSshKey(url, op.token, 'deploy', keyPair(keyDir, 'deploy'))).id;
    server = await bootSandboxServer(sandbox.cloud('hk-a'), 'sip-1');
    // The sandbox server's address is a loopback one: a real sshd answers there as the server.
    sshd = await startSshd({ host: server.addresses[0].address, hostKeyTypes: ['ed25519', 'rsa'] });
  });

  afterAll(async () => {
    await sshd?.stop();
    await broker?.stop();
    await db?.drop();
    await sandbox?.stop();
    fs.rmSync(keyDir, { recursive: true, force: true });
  });

  async function vmType(name: string, recipe: Record<string, unknown> | null): Promise<string> {
    const { createVmType } = await gqlOk(url, op.token, `mutation($input: VmTypeInput!) { createVmType(input: $input) { id } }`, {
      input: { name, minInstances: 1, maxInstances: 3, configureRecipe: recipe },
    });
    return createVmType.id;
  }

  async function importInto(vmTypeId: string, srv: Server) {
    return (await gqlOk(url, op.token, IMPORT, { input: { cloudId, serverId: srv.id, vmTypeId } })).importVm;
  }

  it('records the host key the server presents at import (trust on first use)', async () => {
    const vm = await importInto(await vmType('opensips', { sshKeyId, sshPort: sshd.port }), server);
    expect(vm.addresses[0].address).toBe(sshd.host);
    // ssh2 prefers Ed25519 among the keys this sshd offers, as the CONFIGURE adapter will.
    expect(vm.sshHostKey).toEqual({ algorithm: 'ssh-ed25519', fingerprint: sshd.hostKeys[0].fingerprint, source: 'IMPORTED' });
    expect(vm.sshHostKeyFingerprint).toBe(sshd.hostKeys[0].fingerprint);
    expect(vm.sshHostKeyNote).toBeNull();
    const { auditLog } = await gqlOk(url, op.token, `{ auditLog(first: 5) { action details } }`);
    expect(auditLog.find((e: { action: string }) => e.action === 'vm.import').details).toMatchObject({ hostKeyFingerprint: sshd.hostKeys[0].fingerprint });
  });

  it('imports a server it cannot reach without a key, saying why and what to do', async () => {
    const unreachable = await bootSandboxServer(sandbox.cloud('hk-a'), 'sip-2');
    const closed = await freePort(unreachable.addresses[0].address);
    const vm = await importInto(await vmType('opensips-closed', { sshKeyId, sshPort: closed }), unreachable);
    expect(vm.sshHostKey).toBeNull();
    expect(vm.sshHostKeyNote).toBe(
      `host key not read at import: SSH ${unreachable.addresses[0].address}:${closed}: no answer (the connection failed, was cut or timed out; the broker's log has the cause); pin it with setVmHostKey before the VM is cloned (CONFIGURE refuses to run without one)`,
    );
  });

  it('does not try without a recipe (no SSH port to try), and says so', async () => {
    const plain = await bootSandboxServer(sandbox.cloud('hk-a'), 'sip-3');
    const vm = await importInto(await vmType('no-recipe', null), plain);
    expect(vm.sshHostKey).toBeNull();
    expect(vm.sshHostKeyNote).toContain('VM type no-recipe has no configureRecipe with an SSH key');
  });

  it('sets and replaces a host key from a public key line or a fingerprint', async () => {
    const { vms } = await gqlOk(url, op.token, `{ vms { id name } }`);
    const vmId = vms.find((v: { name: string }) => v.name === 'sip-2').id;
    const rsaKey = sshd.hostKeys[1];
    const set = (await gqlOk(url, op.token, SET_KEY, { vmId, key: rsaKey.publicKey })).setVmHostKey;
    expect(set).toMatchObject({ sshHostKey: { algorithm: 'ssh-rsa', fingerprint: rsaKey.fingerprint, source: 'SET' }, sshHostKeyNote: null });
    const replaced = (await gqlOk(url, op.token, SET_KEY, { vmId, key: sshd.hostKeys[0].fingerprint })).setVmHostKey;
    expect(replaced.sshHostKey).toEqual({ algorithm: null, fingerprint: sshd.hostKeys[0].fingerprint, source: 'SET' });
    const { auditLog } = await gqlOk(url, op.token, `{ auditLog(first: 5) { action objectId details } }`);
    expect(auditLog[0]).toMatchObject({ action: 'vm.setHostKey', objectId: vmId, details: { fingerprint: sshd.hostKeys[0].fingerprint, previousFingerprint: rsaKey.fingerprint } });
  });

  it.each([
    ['', 'must not be empty'],
    ['SHA256:abc', 'SHA256: followed by 43'],
    ['ssh-ed25519 AAAA-not-base64', 'not an OpenSSH public key'],
    ['-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----', 'one OpenSSH public key line'],
    ['md5:aa:bb', 'one OpenSSH public key line'],
  ])('refuses %j as a host key, naming key', async (key, rule) => {
    const { vms } = await gqlOk(url, op.token, `{ vms { id } }`);
    const err = await gqlError(url, op.token, SET_KEY, { vmId: vms[0].id, key });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'key', rule: expect.stringContaining(rule) });
  });

  it("keeps other tenants and viewers off a VM's host key", async () => {
    const { vms } = await gqlOk(url, op.token, `{ vms { id } }`);
    const foreign = await gqlError(url, other.token, SET_KEY, { vmId: vms[0].id, key: sshd.hostKeys[0].fingerprint });
    expect(foreign.extensions?.code).toBe('NOT_FOUND');
    const viewer = await addToken(url, broker.adminToken, op.tenantId, 'VIEWER');
    expect((await gqlError(url, viewer, SET_KEY, { vmId: vms[0].id, key: sshd.hostKeys[0].fingerprint })).extensions?.code).toBe('FORBIDDEN');
    expect((await gqlError(url, op.token, SET_KEY, { vmId: 'nope', key: sshd.hostKeys[0].fingerprint })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'vmId' });
  });

  it('gives a clone its source\'s key, marked CLONED, however the clone row is written', async () => {
    const repo = broker.dataSource.getRepository(VmEntity);
    const source = await repo.findOneByOrFail({ name: 'sip-1' });
    const clone = (n: string, extra: Partial<VmEntity>) =>
      repo.save(
        repo.create({
          tenantId: source.tenantId,
          vmTypeId: source.vmTypeId,
          cloudId: source.cloudId,
          serverId: `clone-${n}`,
          name: `sip-1-clone-${n}`,
          addresses: [],
          state: 'ACTIVE',
          origin: VmOrigin.CLONE,
          sourceVmId: source.id,
          ...extra,
        }),
      );
    const whole = await clone('a', inheritedHostKey(source));
    expect(whole).toMatchObject({ sshHostKeyFingerprint: source.sshHostKeyFingerprint, sshHostKeyAlgorithm: 'ssh-ed25519', sshHostKeySource: HostKeySource.CLONED });
    // What the clone runner writes today: the fingerprint alone.
    const bare = await clone('b', { sshHostKeyFingerprint: source.sshHostKeyFingerprint });
    expect(bare).toMatchObject({ sshHostKeySource: HostKeySource.CLONED, sshHostKeyAlgorithm: null });
    const { vms } = await gqlOk(url, op.token, `{ vms { name sshHostKey { source fingerprint } } }`);
    expect(vms.find((v: { name: string }) => v.name === 'sip-1-clone-b').sshHostKey).toEqual({ source: 'CLONED', fingerprint: source.sshHostKeyFingerprint });
  });
});
