/**
 * SSH keys, monitoring servers and load balancers through the real HTTP API on a real PostgreSQL:
 * create, list, update, delete, CONFLICT while bound, validation naming the field, secrets never
 * returned (checked in the response, the row and the audit log), tenant isolation and roles.
 */
import fs from 'node:fs';
import { LoadBalancerEntity, MonitoringServerEntity, SshKeyEntity, VmTypeEntity } from '../../src/domain/entities';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertCloud, insertVm } from '../support/fixtures';
import { gqlError, gqlOk } from '../support/graphql';
import {
  createSshKey,
  LOAD_BALANCER_FIELDS,
  loadBalancerInput,
  MONITORING_SERVER_FIELDS,
  monitoringServerInput,
  NAGIOS_HOST_TEMPLATE,
  registerLoadBalancer,
  registerMonitoringServer,
  SSH_KEY_FIELDS,
} from '../support/integrations';
import { KeyPair, keyPair, tempKeyDir } from '../support/ssh-keys';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';

const CREATE_KEY = `mutation($input: SshKeyInput!) { createSshKey(input: $input) { ${SSH_KEY_FIELDS} } }`;
const UPDATE_KEY = `mutation($id: ID!, $input: UpdateSshKeyInput!) { updateSshKey(id: $id, input: $input) { ${SSH_KEY_FIELDS} } }`;
const DELETE_KEY = `mutation($id: ID!) { deleteSshKey(id: $id) }`;
const REGISTER_MON = `mutation($input: MonitoringServerInput!) { registerMonitoringServer(input: $input) { ${MONITORING_SERVER_FIELDS} } }`;
const UPDATE_MON = `mutation($id: ID!, $input: UpdateMonitoringServerInput!) { updateMonitoringServer(id: $id, input: $input) { ${MONITORING_SERVER_FIELDS} } }`;
const DELETE_MON = `mutation($id: ID!) { deleteMonitoringServer(id: $id) }`;
const REGISTER_LB = `mutation($input: LoadBalancerInput!) { registerLoadBalancer(input: $input) { ${LOAD_BALANCER_FIELDS} } }`;
const UPDATE_LB = `mutation($id: ID!, $input: UpdateLoadBalancerInput!) { updateLoadBalancer(id: $id, input: $input) { ${LOAD_BALANCER_FIELDS} } }`;
const DELETE_LB = `mutation($id: ID!) { deleteLoadBalancer(id: $id) }`;
const CREATE_TYPE = `mutation($input: VmTypeInput!) { createVmType(input: $input) { id name } }`;
const UPDATE_TYPE = `mutation($id: ID!, $input: VmTypeInput!) { updateVmType(id: $id, input: $input) { id } }`;
const GHOST = '0b5e9a5c-0000-4000-8000-000000000000';

describe('integrations: SSH keys, monitoring servers, load balancers', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let url: string;
  let a: TenantToken;
  let b: TenantToken;
  let dir: string;
  let deploy: KeyPair;
  let nagiosHost: KeyPair;
  let keyId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    url = broker.url;
    a = await createTenantWithToken(url, broker.adminToken, 'int-a');
    b = await createTenantWithToken(url, broker.adminToken, 'int-b');
    dir = tempKeyDir('integrations');
    deploy = keyPair(dir, 'deploy', { type: 'ecdsa', passphrase: 'deploy-passphrase' });
    nagiosHost = keyPair(dir, 'nagios-host', { comment: 'root@nagios' });
    keyId = (await createSshKey(url, a.token, 'main', keyPair(dir, 'main'))).id;
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const monitoringServer = (id: string) => broker.dataSource.getRepository(MonitoringServerEntity).findOneByOrFail({ id });
  const loadBalancer = (id: string) => broker.dataSource.getRepository(LoadBalancerEntity).findOneByOrFail({ id });

  /** Every stored byte of the tenant's integration rows and audit entries, as text, to look for secrets in. */
  async function storedText(): Promise<string> {
    const all = await Promise.all(
      ['ssh_keys', 'monitoring_servers', 'load_balancers', 'audit_log', 'events'].map((table) => broker.dataSource.query(`SELECT row_to_json(t)::text AS j FROM ${table} t`)),
    );
    return all.flat().map((r: { j: string }) => r.j).join('\n');
  }

  describe('SSH keys', () => {
    it('stores a key pair and shows only its public half, as ssh-keygen derives it', async () => {
      const { createSshKey: key } = await gqlOk(url, a.token, CREATE_KEY, { input: { name: 'deploy', username: 'sipadmin', privateKey: deploy.privateKey, passphrase: 'deploy-passphrase' } });
      expect(key).toMatchObject({ name: 'deploy', username: 'sipadmin', algorithm: 'ecdsa-sha2-nistp256', fingerprint: deploy.fingerprint });
      expect(key.publicKey.split(' ').slice(0, 2)).toEqual(deploy.publicKey.split(' ').slice(0, 2));
      expect(JSON.stringify(key)).not.toContain('PRIVATE');
      const { sshKeys } = await gqlOk(url, a.token, `{ sshKeys { id name fingerprint } }`);
      expect(sshKeys.map((k: { name: string }) => k.name)).toEqual(['deploy', 'main']);
      const { sshKey } = await gqlOk(url, a.token, `query($id: ID!) { sshKey(id: $id) { id fingerprint } }`, { id: key.id });
      expect(sshKey).toEqual({ id: key.id, fingerprint: deploy.fingerprint });
      // Neither the private key nor its passphrase is anywhere in the database as text.
      const stored = await storedText();
      expect(stored).not.toContain(deploy.privateKey.split('\n')[1]);
      expect(stored).not.toContain('deploy-passphrase');
      const [row] = await broker.dataSource.query(`SELECT private_key_ciphertext FROM ssh_keys WHERE id = $1`, [key.id]);
      expect(row.private_key_ciphertext.toString('latin1')).not.toContain('PRIVATE KEY');
    });

    it.each([
      [{ privateKey: 'not a key' }, 'input.privateKey', 'OpenSSH or PEM private key'],
      [{ privateKey: '' }, 'input.privateKey', 'must not be empty'],
      [{ privateKey: 'PUBLIC' }, 'input.privateKey', 'not a public one'],
      [{ privateKey: 'DEPLOY' }, 'input.passphrase', 'required'],
      [{ privateKey: 'DEPLOY', passphrase: 'wrong-passphrase' }, 'input.passphrase', 'does not decrypt'],
      [{ username: 'Root User' }, 'input.username', 'POSIX user name'],
      [{ name: 'bad;name' }, 'input.name', 'letters, digits'],
    ])('refuses %j naming %s', async (patch, field, rule) => {
      const input = { name: 'refused', username: 'sipadmin', privateKey: keyPair(dir, 'refused').privateKey, ...patch };
      if (input.privateKey === 'PUBLIC') input.privateKey = nagiosHost.publicKey;
      if (input.privateKey === 'DEPLOY') input.privateKey = deploy.privateKey;
      const err = await gqlError(url, a.token, CREATE_KEY, { input });
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field, rule: expect.stringContaining(rule) });
      expect((await broker.dataSource.query(`SELECT count(*)::int AS n FROM ssh_keys WHERE name = 'refused'`))[0].n).toBe(0);
    });

    it('renames, changes the user, and replaces the key pair; a passphrase alone is refused', async () => {
      const key = await createSshKey(url, a.token, 'rotating', keyPair(dir, 'rotating-1'));
      const next = keyPair(dir, 'rotating-2', { type: 'rsa', format: 'PEM' });
      const { updateSshKey } = await gqlOk(url, a.token, UPDATE_KEY, { id: key.id, input: { name: 'rotated', username: 'root', privateKey: next.privateKey } });
      expect(updateSshKey).toMatchObject({ id: key.id, name: 'rotated', username: 'root', algorithm: 'ssh-rsa', fingerprint: next.fingerprint });
      const err = await gqlError(url, a.token, UPDATE_KEY, { id: key.id, input: { passphrase: 'just-this' } });
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.passphrase' });
      const dup = await gqlError(url, a.token, UPDATE_KEY, { id: key.id, input: { name: 'main' } });
      expect(dup.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
    });

    it('opens the sealed key for adapters, with its passphrase', async () => {
      const { sshKeys } = await gqlOk(url, a.token, `{ sshKeys { id name } }`);
      const entity = await broker.dataSource.getRepository(SshKeyEntity).findOneByOrFail({ id: sshKeys.find((k: { name: string }) => k.name === 'deploy').id });
      expect(broker.services.sshKeys.loginOf(entity)).toEqual({ username: 'sipadmin', privateKey: deploy.privateKey, passphrase: 'deploy-passphrase' });
    });
  });

  describe('monitoring servers', () => {
    it('registers a Nagios with defaults, pinning its host key from the public key line', async () => {
      const { registerMonitoringServer: server } = await gqlOk(url, a.token, REGISTER_MON, {
        input: { ...monitoringServerInput('nagios-main', keyId, nagiosHost.publicKey), sshPort: undefined },
      });
      expect(server).toMatchObject({
        name: 'nagios-main',
        statusUrl: 'http://127.0.0.1:8080/cgi-bin/nagios4/statusjson.cgi',
        username: 'nagiosadmin',
        sshHost: '127.0.0.1',
        sshPort: 22,
        sshKeyId: keyId,
        sshHostKey: { algorithm: 'ssh-ed25519', fingerprint: nagiosHost.fingerprint },
        configDir: '/etc/nagios4/conf.d/intercloud',
        verifyCommand: ['nagios4', '-v', '/etc/nagios4/nagios.cfg'],
        pidFile: '/run/nagios4/nagios4.pid',
        health: 'UNKNOWN',
        lastError: null,
        lastPolledAt: null,
      });
      expect(JSON.stringify(server)).not.toContain('nagios-secret-pw');
      expect(await storedText()).not.toContain('nagios-secret-pw');
      const { monitoringServers } = await gqlOk(url, a.token, `{ monitoringServers { id name } }`);
      expect(monitoringServers).toEqual([{ id: server.id, name: 'nagios-main' }]);
      // The poller and the MONITORING step get the password, for the URL it was given for.
      const entity = await monitoringServer(server.id);
      expect(broker.services.monitoringServers.statusEndpointOf(entity)).toEqual({ statusUrl: server.statusUrl, username: 'nagiosadmin', password: 'nagios-secret-pw' });
      const access = await broker.services.monitoringServers.configAccessOf(entity);
      expect(access).toMatchObject({ ssh: { host: '127.0.0.1', port: 22, username: 'sipadmin', expectedHostKey: { fingerprint: nagiosHost.fingerprint } }, sudo: true });
    });

    it('pins a host key given as a SHA256 fingerprint, and takes a custom verify command and PID file', async () => {
      const server = await registerMonitoringServer(url, a.token, 'nagios-fp', keyId, nagiosHost.fingerprint, {
        verifyCommand: ['sudo', '-n', '/usr/sbin/nagios4', '-v', '/etc/nagios4/nagios.cfg'],
        pidFile: '/var/run/nagios/nagios.pid',
        sshHost: 'nagios.example.net',
      });
      expect(server).toMatchObject({ sshHostKey: { algorithm: null, fingerprint: nagiosHost.fingerprint }, pidFile: '/var/run/nagios/nagios.pid', sshHost: 'nagios.example.net' });
    });

    it.each([
      [{ statusUrl: 'http://127.0.0.1/cgi-bin/nagios4/status.cgi' }, 'input.statusUrl', 'statusjson.cgi'],
      [{ statusUrl: 'ftp://127.0.0.1/statusjson.cgi' }, 'input.statusUrl', 'http or https'],
      [{ statusUrl: 'http://admin:pw@127.0.0.1/statusjson.cgi' }, 'input.statusUrl', 'user info'],
      [{ statusUrl: 'http://127.0.0.1/statusjson.cgi?query=hostlist' }, 'input.statusUrl', 'query or fragment'],
      [{ statusUrl: 'not a url' }, 'input.statusUrl', 'absolute http(s) URL'],
      [{ username: 'a:b' }, 'input.username', '":"'],
      [{ password: 'line\r\nInjected: header' }, 'input.password', 'control characters'],
      [{ sshHost: 'nagios; rm -rf /' }, 'input.sshHost', 'host name (RFC 1123) or an IP address'],
      [{ sshHost: '127.1' }, 'input.sshHost', 'host name (RFC 1123) or an IP address'],
      [{ sshPort: 0 }, 'input.sshPort', 'port'],
      [{ sshKeyId: GHOST }, 'input.sshKeyId', 'one of your SSH keys'],
      [{ sshHostKey: 'ssh-ed25519 garbage' }, 'input.sshHostKey', 'not an OpenSSH public key'],
      [{ sshHostKey: 'SHA256:tooshort' }, 'input.sshHostKey', 'SHA256: followed by 43'],
      [{ configDir: 'etc/nagios' }, 'input.configDir', 'absolute'],
      [{ configDir: '/etc/nagios4/../../root' }, 'input.configDir', '..'],
      [{ configDir: '/etc/nagios\n4' }, 'input.configDir', 'control characters'],
      [{ verifyCommand: [] }, 'input.verifyCommand', 'program name'],
      [{ verifyCommand: Array(33).fill('x') }, 'input.verifyCommand', 'at most 32'],
      [{ verifyCommand: ['nagios4', 'x'.repeat(1025)] }, 'input.verifyCommand.1', 'at most 1024'],
      [{ pidFile: 'nagios.pid' }, 'input.pidFile', 'absolute'],
    ])('refuses %j naming %s', async (patch, field, rule) => {
      const err = await gqlError(url, a.token, REGISTER_MON, { input: { ...monitoringServerInput('refused', keyId, nagiosHost.publicKey), ...patch } });
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field, rule: expect.stringContaining(rule) });
    });

    it('needs the password again for a new status URL and the host key again for a new SSH host', async () => {
      const server = await registerMonitoringServer(url, a.token, 'nagios-moving', keyId, nagiosHost.publicKey);
      await broker.services.monitoringServers.recordPoll(server.id, { ok: false, error: 'no answer' });
      const noPassword = await gqlError(url, a.token, UPDATE_MON, { id: server.id, input: { statusUrl: 'https://nagios.example.net/cgi-bin/nagios4/statusjson.cgi' } });
      expect(noPassword.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.password', rule: expect.stringContaining('only ever sent to the URL') });
      const noKey = await gqlError(url, a.token, UPDATE_MON, { id: server.id, input: { sshHost: '10.0.0.9' } });
      expect(noKey.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.sshHostKey' });
      const other = keyPair(dir, 'nagios-2');
      const { updateMonitoringServer: moved } = await gqlOk(url, a.token, UPDATE_MON, {
        id: server.id,
        input: { statusUrl: 'https://nagios.example.net/cgi-bin/nagios4/statusjson.cgi', password: 'new-secret-pw', sshHost: '10.0.0.9', sshHostKey: other.publicKey, name: 'nagios-moved' },
      });
      expect(moved).toMatchObject({ name: 'nagios-moved', sshHost: '10.0.0.9', sshHostKey: { fingerprint: other.fingerprint }, health: 'UNKNOWN', lastError: null });
      const entity = await monitoringServer(server.id);
      expect(broker.services.monitoringServers.statusEndpointOf(entity).password).toBe('new-secret-pw');
      // Changing only what the password does not depend on keeps it.
      await gqlOk(url, a.token, UPDATE_MON, { id: server.id, input: { configDir: '/etc/nagios4/objects/clones', verifyCommand: ['nagios4', '-v', '/etc/nagios4/other.cfg'] } });
      expect(broker.services.monitoringServers.statusEndpointOf(await monitoringServer(server.id)).password).toBe('new-secret-pw');
    });
  });

  describe('load balancers', () => {
    it('registers each kind with its own defaults, and never returns the database password', async () => {
      const kamailio = await registerLoadBalancer(url, a.token, 'kamailio');
      expect(kamailio).toMatchObject({
        kind: 'KAMAILIO_DISPATCHER',
        db: { host: '127.0.0.1', port: 3306, user: 'kamailio', database: 'kamailio' },
        table: 'dispatcher',
        rpcUrl: 'http://127.0.0.1:5080/RPC',
        reloadMethod: 'dispatcher.reload',
        listMethod: 'dispatcher.list',
      });
      const opensips = await registerLoadBalancer(url, a.token, 'opensips', { kind: 'OPENSIPS_LOAD_BALANCER', db: { host: 'db.example.net', port: 3307, user: 'root', password: '', database: 'opensips' } });
      expect(opensips).toMatchObject({ kind: 'OPENSIPS_LOAD_BALANCER', table: 'load_balancer', reloadMethod: 'lb_reload', listMethod: null, db: { host: 'db.example.net', port: 3307 } });
      const custom = await registerLoadBalancer(url, a.token, 'custom', { table: 'lb_dispatcher', listMethod: null, reloadMethod: 'dispatcher.reload' });
      expect(custom).toMatchObject({ table: 'lb_dispatcher', listMethod: null });
      expect(JSON.stringify([kamailio, opensips])).not.toContain('kamailio-db-pw');
      expect(await storedText()).not.toContain('kamailio-db-pw');
      const entity = await loadBalancer(kamailio.id);
      expect(broker.services.loadBalancers.connectionOf(entity)).toEqual({
        kind: 'KAMAILIO_DISPATCHER',
        db: { host: '127.0.0.1', port: 3306, user: 'kamailio', password: 'kamailio-db-pw', database: 'kamailio' },
        table: 'dispatcher',
        rpcUrl: 'http://127.0.0.1:5080/RPC',
        reloadMethod: 'dispatcher.reload',
        listMethod: 'dispatcher.list',
      });
      const { loadBalancers } = await gqlOk(url, a.token, `{ loadBalancers { name } }`);
      expect(loadBalancers.map((l: { name: string }) => l.name)).toEqual(['custom', 'kamailio', 'opensips']);
    });

    it.each([
      [{ table: 'dispatcher; DROP TABLE dispatcher' }, 'input.table', 'letters, digits or _'],
      [{ table: '1dispatcher' }, 'input.table', 'not start with a digit'],
      [{ db: { host: '127.0.0.1', user: 'k', password: '', database: 'kam-ailio' } }, 'input.db.database', 'letters, digits or _'],
      [{ db: { host: 'db host', user: 'k', password: '', database: 'k' } }, 'input.db.host', 'host name'],
      [{ db: { host: '127.0.0.1', port: 65536, user: 'k', password: '', database: 'k' } }, 'input.db.port', 'port'],
      [{ db: { host: '127.0.0.1', user: '', password: '', database: 'k' } }, 'input.db.user', 'must not be empty'],
      [{ rpcUrl: 'file:///etc/passwd' }, 'input.rpcUrl', 'http or https'],
      [{ rpcUrl: 'http://user:pw@127.0.0.1:5080/RPC' }, 'input.rpcUrl', 'user info'],
      [{ reloadMethod: 'dispatcher.reload; rm' }, 'input.reloadMethod', 'JSON-RPC method name'],
      [{ listMethod: '' }, 'input.listMethod', 'JSON-RPC method name'],
      [{ kind: 'HAPROXY' }, 'input.kind', ''],
    ])('refuses %j naming %s', async (patch, field, rule) => {
      const res = await gqlError(url, a.token, REGISTER_LB, { input: { ...loadBalancerInput('refused'), ...patch } });
      if (field === 'input.kind') {
        // An unknown enum value is refused by GraphQL itself.
        expect(res.extensions?.code).toBe('BAD_USER_INPUT');
        return;
      }
      expect(res.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field, rule: expect.stringContaining(rule) });
    });

    it('needs the password again for a new database server or user; a new kind brings its defaults', async () => {
      const lb = await registerLoadBalancer(url, a.token, 'moving-lb');
      const err = await gqlError(url, a.token, UPDATE_LB, { id: lb.id, input: { db: { host: '10.0.0.7' } } });
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.db.password', rule: expect.stringContaining('only ever sent to the server and user') });
      const { updateLoadBalancer } = await gqlOk(url, a.token, UPDATE_LB, { id: lb.id, input: { db: { host: '10.0.0.7', password: 'other-pw' }, kind: 'OPENSIPS_LOAD_BALANCER' } });
      expect(updateLoadBalancer).toMatchObject({ db: { host: '10.0.0.7', port: 3306 }, kind: 'OPENSIPS_LOAD_BALANCER', table: 'load_balancer', reloadMethod: 'lb_reload', listMethod: null });
      const entity = await loadBalancer(lb.id);
      expect(broker.services.loadBalancers.connectionOf(entity).db.password).toBe('other-pw');
    });
  });

  describe('bound integrations', () => {
    it('cannot be deleted while a VM type uses them (CONFLICT naming it), and can once it no longer does', async () => {
      const key = await createSshKey(url, a.token, 'bound-key', keyPair(dir, 'bound'));
      const server = await registerMonitoringServer(url, a.token, 'bound-nagios', key.id, nagiosHost.publicKey);
      const lb = await registerLoadBalancer(url, a.token, 'bound-lb');
      const input = {
        name: 'bound-type',
        minInstances: 1,
        maxInstances: 2,
        configureRecipe: { sshKeyId: key.id, commands: [['true']] },
        monitoring: { serverId: server.id, hostTemplate: NAGIOS_HOST_TEMPLATE },
        loadBalancer: { loadBalancerId: lb.id, setId: 2 },
      };
      const { createVmType } = await gqlOk(url, a.token, CREATE_TYPE, { input });
      await gqlOk(url, a.token, CREATE_TYPE, { input: { ...input, name: 'second-type' } });

      const keyConflict = await gqlError(url, a.token, DELETE_KEY, { id: key.id });
      expect(keyConflict.extensions?.code).toBe('CONFLICT');
      expect(keyConflict.message).toBe('SSH key "bound-key" is in use by VM types "bound-type", "second-type" and monitoring server "bound-nagios": unbind it there first');
      const monConflict = await gqlError(url, a.token, DELETE_MON, { id: server.id });
      expect(monConflict).toMatchObject({ message: expect.stringContaining('VM types "bound-type", "second-type"'), extensions: { code: 'CONFLICT' } });
      const lbConflict = await gqlError(url, a.token, DELETE_LB, { id: lb.id });
      expect(lbConflict).toMatchObject({ message: expect.stringContaining('load balancer "bound-lb" is in use'), extensions: { code: 'CONFLICT' } });

      for (const name of ['bound-type', 'second-type']) {
        const { vmTypes } = await gqlOk(url, a.token, `{ vmTypes { id name } }`);
        await gqlOk(url, a.token, UPDATE_TYPE, { id: vmTypes.find((t: { name: string }) => t.name === name).id, input: { name, minInstances: 1, maxInstances: 2 } });
      }
      expect(createVmType.name).toBe('bound-type');
      expect((await gqlOk(url, a.token, DELETE_LB, { id: lb.id })).deleteLoadBalancer).toBe(true);
      expect((await gqlOk(url, a.token, DELETE_MON, { id: server.id })).deleteMonitoringServer).toBe(true);
      // Now nothing uses the key: the server that did is gone.
      expect((await gqlOk(url, a.token, DELETE_KEY, { id: key.id })).deleteSshKey).toBe(true);
      expect(await broker.dataSource.query(`SELECT id FROM ssh_keys WHERE id = $1`, [key.id])).toEqual([]);
      const { auditLog } = await gqlOk(url, a.token, `{ auditLog(first: 10) { action objectId } }`);
      expect(auditLog.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['sshKey.delete', 'monitoringServer.delete', 'loadBalancer.delete']));
    });

    it('hands the pipeline steps the bindings resolved and decrypted, and a VM\'s template values', async () => {
      const key = await createSshKey(url, a.token, 'steps-key', deploy, { username: 'root', passphrase: 'deploy-passphrase' });
      const server = await registerMonitoringServer(url, a.token, 'steps-nagios', key.id, nagiosHost.fingerprint);
      const lb = await registerLoadBalancer(url, a.token, 'steps-lb', { kind: 'OPENSIPS_LOAD_BALANCER' });
      const { createVmType } = await gqlOk(url, a.token, CREATE_TYPE, {
        input: {
          name: 'steps-type',
          minInstances: 1,
          maxInstances: 2,
          configureRecipe: { sshKeyId: key.id, commands: [['true']] },
          monitoring: { serverId: server.id, hostTemplate: NAGIOS_HOST_TEMPLATE },
          loadBalancer: { loadBalancerId: lb.id, setId: 7 },
        },
      });
      const vmType = await broker.dataSource.getRepository(VmTypeEntity).findOneByOrFail({ id: createVmType.id });
      const bindings = broker.services.sipBindings;
      expect(await bindings.configureAccess(vmType)).toMatchObject({
        recipe: { sshKeyId: key.id, sshPort: 22, sudo: null },
        login: { username: 'root', privateKey: deploy.privateKey, passphrase: 'deploy-passphrase' },
        sudo: false,
      });
      expect(await bindings.monitoringAccess(vmType)).toMatchObject({
        binding: { serverId: server.id, hostName: '{{vmName}}' },
        status: { statusUrl: server.statusUrl, username: 'nagiosadmin', password: 'nagios-secret-pw' },
        config: { ssh: { host: '127.0.0.1', port: 2222, username: 'root', expectedHostKey: { algorithm: '', fingerprint: nagiosHost.fingerprint } }, sudo: false, configDir: '/etc/nagios4/conf.d/intercloud' },
      });
      expect(await bindings.loadBalancerAccess(vmType)).toMatchObject({
        binding: { setId: 7, uriTemplate: 'sip:{{fixedIp}}:5060' },
        connection: { kind: 'OPENSIPS_LOAD_BALANCER', table: 'load_balancer', listMethod: null, db: { password: 'kamailio-db-pw' } },
      });
      const cloud = await insertCloud(broker.dataSource, a.tenantId, 'steps-cloud');
      const vm = await insertVm(broker.dataSource, a.tenantId, cloud.id, vmType.id);
      expect(await bindings.templateValuesOf(vm, vmType, GHOST)).toMatchObject({ fixedIp: '127.0.1.10', cloudName: 'steps-cloud', vmTypeName: 'steps-type', vmName: vm.name, jobId: GHOST });
      const bare = await broker.dataSource.getRepository(VmTypeEntity).save({ ...vmType, id: undefined, name: 'bare', configureRecipe: null, monitoring: null, loadBalancer: null, sshKeyId: null, monitoringServerId: null, loadBalancerId: null });
      expect([await bindings.configureAccess(bare), await bindings.monitoringAccess(bare), await bindings.loadBalancerAccess(bare)]).toEqual([null, null, null]);
    });

    it('audits every change without secrets', async () => {
      const { auditLog } = await gqlOk(url, a.token, `{ auditLog(first: 200) { action details } }`);
      const actions = new Set(auditLog.map((e: { action: string }) => e.action));
      for (const action of ['sshKey.create', 'sshKey.update', 'monitoringServer.register', 'monitoringServer.update', 'loadBalancer.register', 'loadBalancer.update']) expect(actions).toContain(action);
      const text = JSON.stringify(auditLog);
      for (const secret of ['nagios-secret-pw', 'new-secret-pw', 'kamailio-db-pw', 'other-pw', 'deploy-passphrase', 'PRIVATE KEY']) expect(text).not.toContain(secret);
    });
  });

  describe('tenants and roles', () => {
    it("keeps tenants apart: another tenant's ids read like unknown ones", async () => {
      const server = await registerMonitoringServer(url, a.token, 'private-nagios', keyId, nagiosHost.publicKey);
      const lb = await registerLoadBalancer(url, a.token, 'private-lb');
      for (const q of ['sshKeys', 'monitoringServers', 'loadBalancers']) expect((await gqlOk(url, b.token, `{ ${q} { id } }`))[q]).toEqual([]);
      for (const [q, id] of [['sshKey', keyId], ['monitoringServer', server.id], ['loadBalancer', lb.id]]) {
        expect((await gqlOk(url, b.token, `query($id: ID!) { ${q}(id: $id) { id } }`, { id }))[q]).toBeNull();
      }
      const cases = [
        [UPDATE_KEY, keyId, { name: 'stolen' }],
        [UPDATE_MON, server.id, { name: 'stolen' }],
        [UPDATE_LB, lb.id, { name: 'stolen' }],
        [DELETE_KEY, keyId, undefined],
        [DELETE_MON, server.id, undefined],
        [DELETE_LB, lb.id, undefined],
      ] as const;
      for (const [mutation, id, input] of cases) {
        const foreign = await gqlError(url, b.token, mutation, { id, ...(input ? { input } : {}) });
        const ghost = await gqlError(url, b.token, mutation, { id: GHOST, ...(input ? { input } : {}) });
        expect(foreign.extensions?.code).toBe('NOT_FOUND');
        expect(foreign.message.replace(id, 'ID')).toBe(ghost.message.replace(GHOST, 'ID'));
      }
      // B cannot point its own monitoring server at A's key either.
      const bKey = await createSshKey(url, b.token, 'b-key', keyPair(dir, 'b-key'));
      const err = await gqlError(url, b.token, REGISTER_MON, { input: monitoringServerInput('b-nagios', keyId, nagiosHost.publicKey) });
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.sshKeyId' });
      expect((await registerMonitoringServer(url, b.token, 'b-nagios', bKey.id, nagiosHost.publicKey)).name).toBe('b-nagios');
    });

    it('lets viewers and partners read but not manage integrations; operators may', async () => {
      const viewer = await addToken(url, broker.adminToken, a.tenantId, 'VIEWER');
      const partner = await addToken(url, broker.adminToken, a.tenantId, 'PARTNER');
      expect((await gqlOk(url, viewer, `{ sshKeys { name } monitoringServers { name } loadBalancers { name } }`)).sshKeys.length).toBeGreaterThan(0);
      for (const token of [viewer, partner]) {
        expect((await gqlError(url, token, CREATE_KEY, { input: { name: 'x', username: 'x', privateKey: keyPair(dir, 'x').privateKey } })).extensions?.code).toBe('FORBIDDEN');
        expect((await gqlError(url, token, REGISTER_MON, { input: monitoringServerInput('x', keyId, nagiosHost.publicKey) })).extensions?.code).toBe('FORBIDDEN');
        expect((await gqlError(url, token, REGISTER_LB, { input: loadBalancerInput('x') })).extensions?.code).toBe('FORBIDDEN');
        expect((await gqlError(url, token, DELETE_KEY, { id: keyId })).extensions?.code).toBe('FORBIDDEN');
      }
      expect((await gqlError(url, null, `{ sshKeys { id } }`)).extensions?.code).toBe('UNAUTHENTICATED');
    });
  });
});
