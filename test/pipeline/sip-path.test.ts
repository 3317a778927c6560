/**
 * The SIP service path end to end, all real but the OpenStack sandbox: a sandbox VM whose
 * address is a loopback IP where a SIPp UAS worker answers, SIPp UAC load through the peers'
 * Kamailio to it; cloneVm into a second sandbox cloud, where CONFIGURE (over SSH to the peers'
 * sshd, which plays every VM, host key checked) starts a worker on the clone's address, MONITORING
 * makes it a host in the peers' Nagios, LOAD_BALANCER adds it to Kamailio and new calls reach it;
 * then scaleDownVm takes it out of the balancer, waits for its calls to end (active calls, pushed
 * to Nagios as passive results and read back by the poller), deletes it and unregisters it. No
 * call fails across the run (the clone's worker is killed the moment its server is deleted, so a
 * removal that did not drain would fail calls). Once per table kind: Kamailio's dispatcher, and
 * the OpenSIPS load_balancer table that the second Kamailio reads through a view.
 *
 * Also: a host key mismatch is refused; a Nagios verification failure leaves Nagios running and
 * no file behind; an unreachable Nagios yields no samples and a visible error; a failure at each
 * new phase is undone (no row, no Nagios host, no server); shell- and SQL-looking values pass
 * literally.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { registerPeersNagios } from '../support/integrations';
import { isRunning, nagiosHostNames, nagiosPid, submitPassive } from '../support/nagios';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { describeWithServicePeers, KamailioPeer, ServicePeers } from '../support/service-peers';
import { answersSipOptions, startUacLoad, startUasWorker, UasWorker, workerStats } from '../support/sipp';
import { keyPair, tempKeyDir } from '../support/ssh-keys';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

const run = crypto.randomBytes(3).toString('hex');
const ACTIVE_CALLS = 'Active Calls';

const HOST_TEMPLATE = (peers: ServicePeers) => `define host {
  use        ${peers.nagios.hostTemplate}
  host_name  {{hostName}}
  alias      {{vmTypeName}} in {{cloudName}}
  address    {{publicIp}}
}
define service {
  use                  ${peers.nagios.serviceTemplate}
  host_name            {{hostName}}
  service_description  ${ACTIVE_CALLS}
}
`;

/** An argument a shell would expand, and SQL would end a string at, if either ever saw it unquoted. */
const hostileLiteral = (marker: string) => `'; DROP TABLE vms; -- $(touch ${marker}) \`touch ${marker}\` "$HOME" & echo`;

interface Row {
  setId: number;
  uri: string;
  tag: string;
}

describeWithServicePeers('SIP service path end to end', (peers) => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let dst: CloudApi;
  let fx: CloneFixture;
  let lbDb: mysql.Connection;
  let sshKeyId: string;
  let monitoringServerId: string;
  /** Where CONFIGURE writes its files (over SSH, as root, on the peers' sshd: the same machine). */
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `intercloud-sip-e2e-${run}-`));
  const workers: string[] = [];

  const gq = (query: string, variables: Record<string, unknown> = {}) => gqlOk(broker.url, fx.tenant.token, query, variables);
  const rowsOf = async (table: string, kind: 'dispatcher' | 'load_balancer', setId: number): Promise<Row[]> => {
    const [rows] = await lbDb.execute(
      kind === 'dispatcher'
        ? `SELECT setid AS setId, destination AS uri, description AS tag FROM ${table} WHERE setid = ?`
        : `SELECT group_id AS setId, dst_uri AS uri, description AS tag FROM ${table} WHERE group_id = ?`,
      [setId],
    );
    return rows as Row[];
  };
  const rpc = async (kamailio: KamailioPeer, method: string): Promise<any> => {
    const res = await fetch(kamailio.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, id: 1 }) });
    return res.json();
  };
  /** The URIs Kamailio routes set `setId` to now, from its own dispatcher.list. */
  const kamailioTargets = async (kamailio: KamailioPeer, setId: number): Promise<string[]> => {
    const body = await rpc(kamailio, 'dispatcher.list');
    const sets = (body.result?.RECORDS ?? []) as Array<{ SET: { ID: number; TARGETS: Array<{ DEST: { URI: string } }> } }>;
    return sets.filter((r) => r.SET.ID === setId).flatMap((r) => r.SET.TARGETS.map((t) => t.DEST.URI));
  };
  const nagiosFiles = () => fs.readdirSync(peers.nagios.configDir);
  const worker = (cmd: 'start' | 'stop', ip: string) => execFileSync(peers.sipp.workerScript, [cmd, ip, '5070'], { encoding: 'utf8' });
  const serversNamed = async (prefix: string) => (await dst.listServers()).filter((s) => s.name.startsWith(prefix));

  const createVmType = async (name: string, input: Record<string, unknown>): Promise<string> =>
    (await gq(`mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }`, { i: { name, minInstances: 1, maxInstances: 5, ...input } })).createVmType.id;

  const registerLb = async (name: string, kamailio: KamailioPeer, extra: Record<string, unknown> = {}): Promise<string> => {
    const kind = kamailio.table === 'dispatcher' ? 'KAMAILIO_DISPATCHER' : 'OPENSIPS_LOAD_BALANCER';
    const { registerLoadBalancer } = await gq(`mutation($i: LoadBalancerInput!) { registerLoadBalancer(input: $i) { id } }`, {
      i: { name, kind, db: peers.mysql, table: kamailio.table, rpcUrl: kamailio.rpcUrl, reloadMethod: kamailio.reloadMethod, listMethod: kamailio.listMethod, ...extra },
    });
    return registerLoadBalancer.id;
  };

  // Every "VM" here is the one sshd, so one machine's files: each VM type writes to a path of its own.
  const recipe = (dir: string, extra: Record<string, unknown> = {}) => ({
    sshKeyId,
    sshPort: peers.ssh.port,
    files: [{ path: `${workDir}/${dir}/listen.cfg`, mode: 0o640, template: 'listen=udp:{{publicIp}}:5070\n# was {{sourceFixedIp}}; {{vmName}} in {{cloudName}}\n' }],
    commands: [[peers.sipp.workerScript, 'start', '{{publicIp}}', '5070']],
    readiness: { udpPort: 5070, timeoutSeconds: 60 },
    ...extra,
  });
  const monitoring = (extra: Record<string, unknown> = {}) => ({
    serverId: monitoringServerId,
    hostName: `ic${run}-{{vmId}}`,
    hostTemplate: HOST_TEMPLATE(peers),
    metrics: [{ service: ACTIVE_CALLS, metric: 'active_calls' }],
    ...extra,
  });

  const clone = async (vmId: string, name?: string) => {
    const { cloneVm } = await gq(`mutation($i: CloneVmInput!) { cloneVm(input: $i) { id } }`, { i: { vmId, targetCloudId: fx.targetCloudId, ...(name ? { name } : {}) } });
    return waitForJobState(broker.url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED', 'CANCELLED'], 240_000);
  };

  beforeAll(async () => {
    for (const dir of ['dispatcher', 'load_balancer', 'keycheck', 'badrecipe']) fs.mkdirSync(path.join(workDir, dir));
    sandbox = await startSandboxClouds('sip-src', 'sip-dst');
    factory = labCloudApiFactory();
    dst = sandboxApi(factory, sandbox.cloud('sip-dst'));
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { MONITORING_POLL_SECONDS: '1', SIP_REGISTER_TIMEOUT_SECONDS: '15', RATE_LIMIT_PER_MINUTE: '100000' });
    fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'sip-src', 'sip-dst');
    lbDb = await mysql.createConnection({ ...peers.mysql });
    ({ sshKeyId, monitoringServerId } = await registerPeersNagios(broker.url, fx.tenant.token, peers, `peers-nagios-${run}`));
  });

  afterAll(async () => {
    for (const ip of workers) worker('stop', ip);
    await lbDb?.end();
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
    for (const file of nagiosFiles().filter((f) => f.startsWith(`ic${run}-`))) fs.rmSync(path.join(peers.nagios.configDir, file));
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  describe.each([
    ['Kamailio dispatcher', (p: ServicePeers) => p.kamailio.dispatcher, 'dispatcher' as const],
    ['OpenSIPS load_balancer table (read by Kamailio through a view)', (p: ServicePeers) => p.kamailio.loadBalancer, 'load_balancer' as const],
  ])('%s', (_label, kamailioOf, kind) => {
    const kamailio = kamailioOf(peers);
    const setId = crypto.randomInt(1000, 60_000);
    let source: UasWorker;

    afterAll(async () => {
      await lbDb.execute(`DELETE FROM ${kamailio.table} WHERE ${kind === 'dispatcher' ? 'setid' : 'group_id'} = ?`, [setId]);
      await rpc(kamailio, kamailio.reloadMethod);
      await source?.stop();
    });

    it('clones a SIP server into service under load and removes it drained: no call fails', async () => {
      const marker = path.join(workDir, `pwned-${kind}`);
      const lbId = await registerLb(`peers-${kind}-${run}`, kamailio);
      const vmTypeId = await createVmType(`opensips-${kind.replace('_', '-')}`, {
        configureRecipe: recipe(kind, {
          commands: [
            [peers.sipp.workerScript, 'start', '{{publicIp}}', '5070'],
            // A tenant's value with every shell and SQL metacharacter: written as one argument, never run.
            ['sh', '-c', 'printf "%s" "$1" > "$2"', 'sh', hostileLiteral(marker), `${workDir}/${kind}/argv`],
          ],
        }),
        monitoring: monitoring(),
        loadBalancer: {
          loadBalancerId: lbId,
          setId,
          uriTemplate: 'sip:{{publicIp}}:5070',
          attrs: kind === 'dispatcher' ? 'weight=50' : 'pstn=100',
          drainMetric: 'active_calls',
          drainTimeoutSeconds: 90,
          drainAction: 'ABORT',
        },
      });

      // The operator's SIP server, in service before the broker knows it: its own row, entered by hand.
      const hostileName = `opensips-1'; DROP TABLE dispatcher; -- $(touch ${marker})`;
      const { vmId, server } = await fx.importNewVm(hostileName, undefined, vmTypeId);
      const sourceIp = server.addresses.find((a) => a.kind === 'fixed')!.address;
      const imported = (await gq(`query($id: ID!) { vm(id: $id) { name sshHostKey { fingerprint source } } }`, { id: vmId })).vm;
      expect(imported).toEqual({ name: hostileName, sshHostKey: { fingerprint: peers.ssh.hostKeys[0].fingerprint, source: 'IMPORTED' } });
      source = await startUasWorker(peers, sourceIp);
      await lbDb.execute(
        kind === 'dispatcher'
          ? `INSERT INTO dispatcher (setid, destination, attrs, description) VALUES (?, ?, 'weight=50', 'operator')`
          : `INSERT INTO load_balancer (group_id, dst_uri, resources, description) VALUES (?, ?, 'pstn=100', 'operator')`,
        [setId, source.uri],
      );
      await rpc(kamailio, kamailio.reloadMethod);
      expect(await kamailioTargets(kamailio, setId)).toEqual([source.uri]);

      const load = await startUacLoad(peers, { host: kamailio.sipHost, port: kamailio.sipPort }, setId, { rate: 5, holdMs: 3000 });
      let stopReporter = () => undefined as void;
      try {
        await waitFor(() => source.successfulCalls() >= 3, 'calls to reach the source worker', 60_000, 250);

        // Clone: CONFIGURE -> MONITORING -> LOAD_BALANCER, each confirmed against the peer itself.
        const job = await clone(vmId);
        expect(job.error).toBeNull();
        expect(job.state).toBe('DONE');
        expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK', 'CONFIGURE', 'MONITORING', 'LOAD_BALANCER']);
        const cloneVm = job.resultVm as { id: string; serverId: string; addresses: { address: string; kind: string }[] };
        const ip = cloneVm.addresses.find((a) => a.kind === 'floating')!.address;
        workers.push(ip);
        expect(ip).not.toBe(sourceIp);
        expect(fs.readFileSync(path.join(workDir, kind, 'listen.cfg'), 'utf8')).toBe(
          `listen=udp:${ip}:5070\n# was ${sourceIp}; ${job.name} in sip-dst\n`,
        );
        expect(fs.readFileSync(path.join(workDir, kind, 'argv'), 'utf8')).toBe(hostileLiteral(marker));
        expect(fs.existsSync(marker)).toBe(false);
        expect(await answersSipOptions(ip, 5070)).toBe(true);
        const hostName = `ic${run}-${cloneVm.id}`;
        expect(await nagiosHostNames(peers)).toContain(hostName);
        expect(fs.readFileSync(path.join(peers.nagios.configDir, `${hostName}.cfg`), 'utf8')).toContain(`address    ${ip}`);
        const rows = await rowsOf(kamailio.table, kind, setId);
        expect(rows).toEqual(expect.arrayContaining([{ setId, uri: `sip:${ip}:5070`, tag: `intercloud_vm=${cloneVm.id}` }]));
        expect(rows).toHaveLength(2);
        expect((await kamailioTargets(kamailio, setId)).sort()).toEqual([source.uri, `sip:${ip}:5070`].sort());

        // New calls reach the new worker.
        const before = workerStats(peers, ip).incoming;
        await waitFor(() => workerStats(peers, ip).incoming >= before + 5, `calls to reach the clone's worker at ${ip}`, 60_000, 250);

        // The clone's active calls, pushed to Nagios every second as a passive check would (the poller reads them back).
        let reporting = true;
        const reporter = (async () => {
          while (reporting) {
            const { current } = workerStats(peers, ip);
            await submitPassive(peers, hostName, ACTIVE_CALLS, 0, `OK - ${current} active calls|calls=${current}`).catch(() => undefined);
            await new Promise((r) => setTimeout(r, 1000));
          }
        })();
        stopReporter = () => void (reporting = false);
        await waitFor(async () => {
          const { samples } = await gq(`query($v: ID!) { samples(vmId: $v, metric: "active_calls", first: 1) { value } }`, { v: cloneVm.id });
          return samples.length > 0;
        }, 'a sample of the clone read from Nagios by the poller', 60_000, 250);

        // The VM dies with its server: the worker stops the moment the server is gone.
        let killedAt: number | null = null;
        const watchdog = (async () => {
          while (killedAt === null) {
            if ((await dst.getServer(cloneVm.serverId).catch(() => undefined)) === null) {
              worker('stop', ip);
              killedAt = Date.now();
              return;
            }
            await new Promise((r) => setTimeout(r, 100));
          }
        })();

        const { scaleDownVm } = await gq(`mutation($v: ID!) { scaleDownVm(vmId: $v) { id } }`, { v: cloneVm.id });
        const ended = await waitFor(async () => {
          const { scaleDownJob } = await gq(`query($id: ID!) { scaleDownJob(id: $id) { state phase error { code message } phases { phase } vm { state } } }`, { id: scaleDownVm.id });
          return ['DONE', 'FAILED', 'CANCELLED'].includes(scaleDownJob.state) ? scaleDownJob : null;
        }, 'the scale-down to end', 240_000, 250);
        expect(ended).toMatchObject({ state: 'DONE', error: null, vm: { state: 'DELETED' } });
        expect(ended.phases.map((p: { phase: string }) => p.phase)).toEqual(['LB_REMOVE', 'DRAIN', 'DELETE', 'UNMONITOR']);
        await waitFor(() => killedAt !== null, 'the watchdog to see the server gone', 30_000, 100);
        await watchdog;
        stopReporter();
        await reporter;

        expect(await dst.getServer(cloneVm.serverId)).toBeNull();
        expect(await kamailioTargets(kamailio, setId)).toEqual([source.uri]);
        expect(await rowsOf(kamailio.table, kind, setId)).toEqual([{ setId, uri: source.uri, tag: 'operator' }]);
        expect(await nagiosHostNames(peers)).not.toContain(hostName);
        expect(nagiosFiles()).not.toContain(`${hostName}.cfg`);

        // The source still takes the calls after the clone is gone.
        const sourceBefore = source.successfulCalls();
        await waitFor(() => source.successfulCalls() >= sourceBefore + 3, 'calls to the source after the scale-down', 60_000, 250);
      } finally {
        stopReporter();
        const result = await load.stop();
        if (result.exitCode !== 0 || result.failed !== 0) throw new Error(`the SIPp UAC exited ${result.exitCode} with ${result.failed} failed calls:\n${result.output.slice(-4000)}`);
        expect(result.successful).toBeGreaterThan(10);
      }
    });
  });

  describe('failures', () => {
    const kamailio = peers.kamailio.dispatcher;
    const setId = crypto.randomInt(1000, 60_000);

    afterAll(async () => {
      await lbDb.execute(`DELETE FROM dispatcher WHERE setid = ?`, [setId]);
    });

    /** Nagios host names of one test's VM type: `ic<run>-<test>-<vm id>`. */
    const hostNames = (test: string) => `ic${run}-${test}-{{vmId}}`;
    /** A failed clone left nothing: no server in the target, no row in the set, no Nagios host of its VM type. */
    const expectNothingLeft = async (jobName: string, test: string) => {
      expect(await serversNamed(jobName)).toEqual([]);
      expect(await rowsOf('dispatcher', 'dispatcher', setId)).toEqual([]);
      expect(nagiosFiles().filter((f) => f.startsWith(`ic${run}-${test}-`))).toEqual([]);
      expect((await nagiosHostNames(peers)).filter((h) => h.startsWith(`ic${run}-${test}-`))).toEqual([]);
    };

    it('refuses a clone whose host key is not the source VM\'s, and undoes the boot', async () => {
      const vmTypeId = await createVmType('opensips-keycheck', { configureRecipe: recipe('keycheck') });
      const { vmId } = await fx.importNewVm(`keycheck-${run}`, undefined, vmTypeId);
      const other = keyPair(tempKeyDir('e2e-hostkey'), 'other-host');
      await gq(`mutation($v: ID!, $k: String!) { setVmHostKey(vmId: $v, key: $k) { id } }`, { v: vmId, k: other.publicKey });
      const job = await clone(vmId, `keycheck-clone-${run}`);
      expect(job.state).toBe('FAILED');
      expect(job.error.code).toBe('HOST_KEY_MISMATCH');
      expect(job.error.message).toContain(other.fingerprint);
      await expectNothingLeft(`keycheck-clone-${run}`, 'keycheck');
    });

    it('undoes a failure at CONFIGURE: the recipe command that fails names itself', async () => {
      const vmTypeId = await createVmType('opensips-badrecipe', { configureRecipe: recipe('badrecipe', { commands: [['sh', '-c', 'echo broken config >&2; exit 3']] }) });
      const { vmId } = await fx.importNewVm(`badrecipe-${run}`, undefined, vmTypeId);
      const job = await clone(vmId, `badrecipe-clone-${run}`);
      expect(job.state).toBe('FAILED');
      expect(job.error).toMatchObject({ code: 'CONFIGURE_FAILED', message: expect.stringContaining('exited 3: broken config') });
      await expectNothingLeft(`badrecipe-clone-${run}`, 'badrecipe');
    });

    it('undoes a failure at MONITORING: Nagios refuses the host, keeps running, and no file stays', async () => {
      const pid = nagiosPid(peers);
      const vmTypeId = await createVmType('opensips-badnagios', {
        monitoring: monitoring({ hostName: hostNames('badnagios'), hostTemplate: `define host {\n  use no-such-template-${run}\n  host_name {{hostName}}\n}\n` }),
      });
      const { vmId } = await fx.importNewVm(`badnagios-${run}`, undefined, vmTypeId);
      const job = await clone(vmId, `badnagios-clone-${run}`);
      expect(job.state).toBe('FAILED');
      expect(job.error).toMatchObject({ code: 'MONITORING_FAILED', message: expect.stringContaining(`no-such-template-${run}`) });
      expect(nagiosPid(peers)).toBe(pid);
      expect(isRunning(pid)).toBe(true);
      await expectNothingLeft(`badnagios-clone-${run}`, 'badnagios');
    });

    it('undoes a failure at LOAD_BALANCER: the row goes, the Nagios host goes, the server goes', async () => {
      // A reload method that reloads nothing: the row is written, the balancer never lists it.
      const lbId = await registerLb(`peers-noreload-${run}`, kamailio, { reloadMethod: 'core.version' });
      const vmTypeId = await createVmType('opensips-badlb', {
        monitoring: monitoring({ hostName: hostNames('badlb') }),
        loadBalancer: { loadBalancerId: lbId, setId, uriTemplate: 'sip:{{publicIp}}:5070', attrs: 'weight=50' },
      });
      const { vmId } = await fx.importNewVm(`badlb-${run}`, undefined, vmTypeId);
      const job = await clone(vmId, `badlb-clone-${run}`);
      expect(job.state).toBe('FAILED');
      expect(job.error.code).toBe('LOAD_BALANCER_FAILED');
      expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(expect.arrayContaining(['MONITORING', 'LOAD_BALANCER']));
      await expectNothingLeft(`badlb-clone-${run}`, 'badlb');
    });

    it('records an unreachable Nagios on its server and stores no samples from it', async () => {
      const closed = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(port));
        });
      });
      const { registerMonitoringServer } = await gq(`mutation($i: MonitoringServerInput!) { registerMonitoringServer(input: $i) { id } }`, {
        i: {
          name: `nagios-down-${run}`,
          statusUrl: `http://127.0.0.1:${closed}/cgi-bin/nagios4/statusjson.cgi`,
          username: 'nagiosadmin',
          password: 'unused',
          sshHost: '127.0.0.1',
          sshPort: peers.ssh.port,
          sshKeyId,
          sshHostKey: peers.ssh.hostKeys[0].publicKey,
          configDir: peers.nagios.configDir,
        },
      });
      const vmTypeId = await createVmType('opensips-nagios-down', { monitoring: monitoring({ serverId: registerMonitoringServer.id }) });
      const { vmId } = await fx.importNewVm(`nagiosdown-${run}`, undefined, vmTypeId);
      const server = await waitFor(async () => {
        const { monitoringServer } = await gq(`query($id: ID!) { monitoringServer(id: $id) { health lastError lastPolledAt } }`, { id: registerMonitoringServer.id });
        return monitoringServer.health === 'UNREACHABLE' ? monitoringServer : null;
      }, 'the poller to record the unreachable Nagios', 60_000, 250);
      expect(server.lastError).toContain(`127.0.0.1:${closed}`);
      const { samples } = await gq(`query($v: ID!) { samples(vmId: $v, metric: "active_calls", first: 10) { value } }`, { v: vmId });
      expect(samples).toEqual([]);
    });
  });
});
