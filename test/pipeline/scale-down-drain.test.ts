/**
 * A drain that times out, against the real peers: a clone registered in the peers' Nagios and
 * Kamailio dispatcher carries real SIPp calls that outlast the drain (a UAS worker on its
 * address, long calls sent through Kamailio), and its active calls reach the broker the way they
 * would in production: passive results written to Nagios, read back by the poller. With ABORT
 * the removal is given up: the job ends FAILED with DRAIN_TIMEOUT, its row is back in the
 * balancer (tagged with the VM) and new calls reach the VM again; nothing else was touched. With
 * FORCE_REMOVE the job goes on: the server is deleted, the row and the Nagios host are gone.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk, untilComplete, wsClient } from '../support/graphql';
import { registerPeersNagios } from '../support/integrations';
import { nagiosHostNames, submitPassive } from '../support/nagios';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { describeWithServicePeers, ServicePeers } from '../support/service-peers';
import { startUacLoad, UacLoad, workerStats } from '../support/sipp';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

const run = crypto.randomBytes(3).toString('hex');
const ACTIVE_CALLS = 'Active Calls';
const DRAIN_TIMEOUT_SECONDS = 8;

const hostTemplate = (peers: ServicePeers) => `define host {
  use        ${peers.nagios.hostTemplate}
  host_name  {{hostName}}
  address    {{publicIp}}
}
define service {
  use                  ${peers.nagios.serviceTemplate}
  host_name            {{hostName}}
  service_description  ${ACTIVE_CALLS}
}
`;

const SCALE_DOWN_JOB = `query($id: ID!) { scaleDownJob(id: $id) { state phase error { code message } phases { phase } vm { id state } } }`;

describeWithServicePeers('scale-down: a drain that times out', (peers) => {
  const kamailio = peers.kamailio.dispatcher;
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let dst: CloudApi;
  let fx: CloneFixture;
  let lbDb: mysql.Connection;
  let monitoringServerId: string;
  let loadBalancerId: string;
  const workers: string[] = [];
  const sets: number[] = [];
  const loads: UacLoad[] = [];
  const reporters: Array<{ stop(): Promise<void> }> = [];

  const gq = (query: string, variables: Record<string, unknown> = {}) => gqlOk(broker.url, fx.tenant.token, query, variables);
  const worker = (cmd: 'start' | 'stop', ip: string) => execFileSync(peers.sipp.workerScript, [cmd, ip, '5070'], { encoding: 'utf8' });
  const rowsOf = async (setId: number) => {
    const [rows] = await lbDb.execute(`SELECT destination AS uri, description AS tag FROM dispatcher WHERE setid = ?`, [setId]);
    return rows as { uri: string; tag: string }[];
  };
  const kamailioTargets = async (setId: number): Promise<string[]> => {
    const res = await fetch(kamailio.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'dispatcher.list', id: 1 }) });
    const body = (await res.json()) as { result?: { RECORDS?: Array<{ SET: { ID: number; TARGETS: Array<{ DEST: { URI: string } }> } }> } };
    return (body.result?.RECORDS ?? []).filter((r) => r.SET.ID === setId).flatMap((r) => r.SET.TARGETS.map((t) => t.DEST.URI));
  };

  /** Pushes the clone's calls in progress (its worker's own count) to Nagios every second, as a passive check would. */
  const reportActiveCalls = (hostName: string, ip: string) => {
    let reporting = true;
    const loop = (async () => {
      while (reporting) {
        const { current } = workerStats(peers, ip);
        await submitPassive(peers, hostName, ACTIVE_CALLS, 0, `OK - ${current} active calls|calls=${current}`).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const reporter = {
      async stop() {
        reporting = false;
        await loop;
      },
    };
    reporters.push(reporter);
    return reporter;
  };

  /**
   * A VM type bound to the peers' Nagios and Kamailio with `drainAction`, a clone of one of its
   * VMs in service (its worker answering, its row live in Kamailio), and long calls on it that
   * the poller sees as active calls.
   */
  async function cloneCarryingCalls(drainAction: 'ABORT' | 'FORCE_REMOVE') {
    const setId = crypto.randomInt(1000, 60_000);
    sets.push(setId);
    const { createVmType } = await gq(`mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }`, {
      i: {
        name: `opensips-drain-${drainAction.toLowerCase()}`,
        minInstances: 1,
        maxInstances: 5,
        monitoring: { serverId: monitoringServerId, hostName: `icsd${run}-{{vmId}}`, hostTemplate: hostTemplate(peers), metrics: [{ service: ACTIVE_CALLS, metric: 'active_calls' }] },
        loadBalancer: { loadBalancerId, setId, uriTemplate: 'sip:{{publicIp}}:5070', attrs: 'weight=50', drainMetric: 'active_calls', drainTimeoutSeconds: DRAIN_TIMEOUT_SECONDS, drainAction },
      },
    });
    const { vmId } = await fx.importNewVm(`drain-${drainAction.toLowerCase()}-${run}`, undefined, createVmType.id);
    const { cloneVm } = await gq(`mutation($i: CloneVmInput!) { cloneVm(input: $i) { id } }`, { i: { vmId, targetCloudId: fx.targetCloudId } });
    const job = await waitForJobState(broker.url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED', 'CANCELLED'], 240_000);
    expect(job.error).toBeNull();
    expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(expect.arrayContaining(['MONITORING', 'LOAD_BALANCER']));
    const clone = job.resultVm as { id: string; serverId: string; addresses: { address: string; kind: string }[] };
    const ip = clone.addresses.find((a) => a.kind === 'floating')!.address;
    const uri = `sip:${ip}:5070`;
    const hostName = `icsd${run}-${clone.id}`;
    // The row is the clone's, tagged with its VM id, and Kamailio routes the set to it.
    expect(await rowsOf(setId)).toEqual([{ uri, tag: `intercloud_vm=${clone.id}` }]);
    expect(await kamailioTargets(setId)).toEqual([uri]);
    expect(await nagiosHostNames(peers)).toContain(hostName);

    worker('start', ip);
    workers.push(ip);
    // Calls held longer than the drain may wait: it cannot see zero.
    const load = await startUacLoad(peers, { host: kamailio.sipHost, port: kamailio.sipPort }, setId, { rate: 2, holdMs: 30_000 });
    loads.push(load);
    await waitFor(() => workerStats(peers, ip).current >= 2, `calls in progress on the clone's worker at ${ip}`, 60_000, 250);
    const reporter = reportActiveCalls(hostName, ip);
    await waitFor(async () => {
      const { samples } = await gq(`query($v: ID!) { samples(vmId: $v, metric: "active_calls", first: 1) { value } }`, { v: clone.id });
      return samples.length > 0 && samples[0].value > 0;
    }, 'the poller to store the clone\'s active calls from Nagios', 60_000, 250);
    return { clone, ip, uri, hostName, setId, reporter };
  }

  const scaleDown = async (vmId: string) => {
    const { scaleDownVm } = await gq(`mutation($v: ID!) { scaleDownVm(vmId: $v) { id } }`, { v: vmId });
    return waitFor(async () => {
      const { scaleDownJob } = await gq(SCALE_DOWN_JOB, { id: scaleDownVm.id });
      return ['DONE', 'FAILED', 'CANCELLED'].includes(scaleDownJob.state) ? { ...scaleDownJob, id: scaleDownVm.id as string } : null;
    }, 'the scale-down to end', 180_000, 250);
  };
  /** The job's events, replayed from the start (the subscription completes after the terminal one). */
  const eventsOf = async (jobId: string) => {
    const client = wsClient(broker.url, fx.tenant.token);
    try {
      const events = await untilComplete<{ scaleDownJobEvents: { kind: string; phase: string; drainValue: number | null; message: string | null } }>(
        client,
        `subscription($id: ID!) { scaleDownJobEvents(jobId: $id, afterSeq: 0) { kind phase drainValue message } }`,
        { id: jobId },
      );
      return events.map((e) => e.scaleDownJobEvents);
    } finally {
      await client.dispose();
    }
  };

  beforeAll(async () => {
    sandbox = await startSandboxClouds('sdd-src', 'sdd-dst');
    factory = labCloudApiFactory();
    dst = sandboxApi(factory, sandbox.cloud('sdd-dst'));
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { MONITORING_POLL_SECONDS: '1', SIP_REGISTER_TIMEOUT_SECONDS: '15', RATE_LIMIT_PER_MINUTE: '100000' });
    fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'sdd-src', 'sdd-dst');
    lbDb = await mysql.createConnection({ ...peers.mysql });
    ({ monitoringServerId } = await registerPeersNagios(broker.url, fx.tenant.token, peers, `peers-nagios-${run}`));
    const { registerLoadBalancer } = await gq(`mutation($i: LoadBalancerInput!) { registerLoadBalancer(input: $i) { id } }`, {
      i: { name: `peers-dispatcher-${run}`, kind: 'KAMAILIO_DISPATCHER', db: peers.mysql, table: kamailio.table, rpcUrl: kamailio.rpcUrl, reloadMethod: kamailio.reloadMethod, listMethod: kamailio.listMethod },
    });
    loadBalancerId = registerLoadBalancer.id;
  });

  afterAll(async () => {
    for (const r of reporters) await r.stop();
    for (const l of loads) await l.stop();
    for (const ip of workers) worker('stop', ip);
    for (const setId of sets) await lbDb?.execute(`DELETE FROM dispatcher WHERE setid = ?`, [setId]);
    if (sets.length) await fetch(kamailio.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: kamailio.reloadMethod, id: 1 }) });
    await lbDb?.end();
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
    for (const file of fs.readdirSync(peers.nagios.configDir).filter((f) => f.startsWith(`icsd${run}-`))) fs.rmSync(path.join(peers.nagios.configDir, file));
  });

  it('ABORT: the removal is given up, FAILED with DRAIN_TIMEOUT, and the VM is back in the load balancer', async () => {
    const { clone, ip, uri, hostName, setId, reporter } = await cloneCarryingCalls('ABORT');
    const ended = await scaleDown(clone.id);
    expect(ended).toMatchObject({ state: 'FAILED', error: { code: 'DRAIN_TIMEOUT' } });
    expect(ended.error.message).toContain(`not drained within ${DRAIN_TIMEOUT_SECONDS} s`);
    expect(ended.phases.map((p: { phase: string }) => p.phase)).toEqual(['LB_REMOVE', 'DRAIN']);
    expect(ended.vm.state).not.toBe('DELETED');
    // The drain's readings were streamed as they came: calls still up, never zero.
    const readings = (await eventsOf(ended.id)).filter((e) => e.kind === 'PROGRESS' && e.phase === 'DRAIN' && e.drainValue !== null);
    expect(readings.length).toBeGreaterThan(0);
    for (const r of readings) expect(r.message).toBe(`active_calls reads ${r.drainValue}`);
    expect(readings.every((r) => r.drainValue! > 0)).toBe(true);

    // Back in service: its row (tagged with the VM), listed by Kamailio, taking new calls.
    expect(await rowsOf(setId)).toEqual([{ uri, tag: `intercloud_vm=${clone.id}` }]);
    expect(await kamailioTargets(setId)).toEqual([uri]);
    const before = workerStats(peers, ip).incoming;
    await waitFor(() => workerStats(peers, ip).incoming >= before + 2, `new calls to reach ${ip} after the abort`, 60_000, 250);
    // Nothing past the drain happened: the server and the Nagios host are still there.
    expect(await dst.getServer(clone.serverId)).not.toBeNull();
    expect(await nagiosHostNames(peers)).toContain(hostName);
    await reporter.stop();
  });

  it('FORCE_REMOVE: the removal goes on past the timeout: server deleted, row and Nagios host gone', async () => {
    const { clone, hostName, setId, reporter } = await cloneCarryingCalls('FORCE_REMOVE');
    const requestedAt = new Date();
    const ended = await scaleDown(clone.id);
    expect(ended).toMatchObject({ state: 'DONE', error: null, vm: { id: clone.id, state: 'DELETED' } });
    expect(ended.phases.map((p: { phase: string }) => p.phase)).toEqual(['LB_REMOVE', 'DRAIN', 'DELETE', 'UNMONITOR']);
    // It went on because the drain timed out, not because the VM drained: no reading since the request was zero.
    const { samples } = await gq(`query($v: ID!, $s: DateTime) { samples(vmId: $v, metric: "active_calls", since: $s, first: 500) { value } }`, { v: clone.id, s: requestedAt.toISOString() });
    expect(samples.length).toBeGreaterThan(0);
    for (const sample of samples) expect(sample.value).toBeGreaterThan(0);
    expect(await dst.getServer(clone.serverId)).toBeNull();
    expect(await rowsOf(setId)).toEqual([]);
    expect(await kamailioTargets(setId)).toEqual([]);
    expect(await nagiosHostNames(peers)).not.toContain(hostName);
    expect(fs.readdirSync(peers.nagios.configDir)).not.toContain(`${hostName}.cfg`);
    await reporter.stop();
  });
});
