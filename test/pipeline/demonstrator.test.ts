/**
 * The demonstrator, end to end: all real (the peers' Nagios, Kamailio on MariaDB, SIPp, sshd; the
 * broker's own leader scheduler, monitoring poller and health prober; PostgreSQL) but the two
 * OpenStack clouds, which are sandbox clouds.
 *
 * SIPp calls go through Kamailio to the operator's SIP server in cloud 1 (a SIPp UAS worker on the
 * VM's address). A feeder plays the operator's Nagios plugin: every second it turns each server's
 * own counts (its worker's stats) into passive results for two services, from the calls per
 * second it received over the last RATE_WINDOW_MS: "SIP Load" (WARNING from WARN_RATE, CRITICAL
 * from CRIT_RATE; its value, the first performance datum, is the calls in progress, which the
 * scale-down drains to zero) and "SIP Underload" (WARNING at or under IDLE_RATE); the broker reads
 * them back from Nagios. The test only changes the offered load.
 *
 * 1. More load: WARNING held -> the scheduler PREPAREs a standby image where the matchmaker would
 *    put a clone: cloud 2, because cloud 1's quota is full (the decision's placement says so).
 *    More load: CRITICAL held -> SCALE_UP commits: a clone booted from the standby in cloud 2,
 *    configured over SSH, registered in Nagios and Kamailio, takes calls. Less load: OK, then
 *    underload held on both -> after the stabilisation window, SCALE_DOWN: the clone leaves
 *    Kamailio, drains, is deleted. No call fails (the clone's worker dies with its server).
 * 2. The same up to the prepare, then cloud 1 goes down (every API call fails; the prober marks it
 *    UNREACHABLE): the CRITICAL hold's commit still brings up capacity, from the standby image.
 *
 * Each run prints its timeline: onset, decisions, capacity ready (first call on the clone), scale-down.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
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
import { nagiosHostNames, nagiosPid, submitPassive } from '../support/nagios';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { describeWithServicePeers, ServicePeers } from '../support/service-peers';
import { startUacLoad, UacLoad, workerStats } from '../support/sipp';
import { waitFor } from '../support/wait';

jest.setTimeout(420_000);

const run = crypto.randomBytes(3).toString('hex');
const LOAD = 'SIP Load';
const UNDERLOAD = 'SIP Underload';
/**
 * Calls per second one server received at which its load goes WARNING, CRITICAL, and at or under
 * which it is underloaded. Kamailio balances round-robin, so with base 1/s, + 1/s, + 2/s offered:
 * one server goes OK (1), WARNING (2), CRITICAL (4); two servers get WARNING (2 each, never
 * CRITICAL), OK (1 each), underloaded (0.5 each).
 */
const WARN_RATE = 1.5;
const CRIT_RATE = 3;
const IDLE_RATE = 0.7;
const RATE_WINDOW_MS = 5000;
const CALL_HOLD_MS = 2000;
/** The scheduler's holds and the scale-down stabilisation window, seconds: short, the rules are the same. */
const HOLD_SECONDS = 3;
const STABILISATION_SECONDS = 10;

const DECISIONS = `query($t: ID) { scalingDecisions(vmTypeId: $t, first: 200) { id action metric reason evidence cloneJobId decidedAt } }`;
type Decision = { id: string; action: string; metric: string | null; reason: string; evidence: Record<string, any>; cloneJobId: string | null; decidedAt: string };

const hostTemplate = (peers: ServicePeers) => `define host {
  use        ${peers.nagios.hostTemplate}
  host_name  {{hostName}}
  address    {{publicIp}}
}
define service {
  use                  ${peers.nagios.serviceTemplate}
  host_name            {{hostName}}
  service_description  ${LOAD}
}
define service {
  use                  ${peers.nagios.serviceTemplate}
  host_name            {{hostName}}
  service_description  ${UNDERLOAD}
}
`;

/** Moments of one run, printed at its end relative to the first. */
class Timeline {
  private readonly marks: { at: number; what: string }[] = [];
  mark(what: string, at: number | string | Date = Date.now()): void {
    this.marks.push({ at: new Date(at).getTime(), what });
  }
  print(title: string): void {
    const sorted = [...this.marks].sort((a, b) => a.at - b.at);
    const t0 = sorted[0]?.at ?? 0;
    console.log(`${title}\n${sorted.map((m) => `  +${((m.at - t0) / 1000).toFixed(1).padStart(6)} s  ${m.what}`).join('\n')}`);
  }
}

describeWithServicePeers('the demonstrator: a SIP overload handled by a partner cloud and released', (peers) => {
  const kamailio = peers.kamailio.dispatcher;
  // Address pools of their own: other tests on this machine run sandbox clouds (and workers) on the default ones.
  const octet = crypto.randomInt(100, 250);
  const pools = (n: number) => ({ fixed: { cidr: `127.${octet}.${n}.0/24` }, floating: { cidr: `127.${octet}.${n + 1}.0/24` } });
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let cloud2: CloudApi;
  let fx: CloneFixture;
  let lbDb: mysql.Connection;
  let sshKeyId: string;
  let monitoringServerId: string;
  let loadBalancerId: string;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `intercloud-demo-${run}-`));
  const workers = new Set<string>();
  const sets: number[] = [];
  const loads: UacLoad[] = [];
  const feeders: Feeder[] = [];

  const gq = (query: string, variables: Record<string, unknown> = {}) => gqlOk(broker.url, fx.tenant.token, query, variables);
  const worker = (cmd: 'start' | 'stop', ip: string) => execFileSync(peers.sipp.workerScript, [cmd, ip, '5070'], { encoding: 'utf8' });
  const rpc = async (method: string): Promise<any> =>
    (await fetch(kamailio.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, id: 1 }) })).json();
  const kamailioTargets = async (setId: number): Promise<string[]> => {
    const sets = ((await rpc('dispatcher.list')).result?.RECORDS ?? []) as Array<{ SET: { ID: number; TARGETS: Array<{ DEST: { URI: string } }> } }>;
    return sets.filter((r) => r.SET.ID === setId).flatMap((r) => r.SET.TARGETS.map((t) => t.DEST.URI));
  };
  /** Nagios reloads its configuration only after it verifies (a HUP with a bad one would kill it). */
  const reloadNagios = () => {
    const [cmd, ...args] = peers.nagios.verifyCommand;
    execFileSync(cmd!, args, { encoding: 'utf8' });
    process.kill(nagiosPid(peers), 'SIGHUP');
  };
  const decisionsOf = async (vmTypeId: string): Promise<Decision[]> => (await gq(DECISIONS, { t: vmTypeId })).scalingDecisions;
  const decision = (vmTypeId: string, what: string, match: (d: Decision) => boolean, timeoutMs = 120_000) =>
    waitFor(async () => (await decisionsOf(vmTypeId)).find(match), what, timeoutMs, 250).catch(async (err) => {
      const seen = (await decisionsOf(vmTypeId)).map((d) => `${d.decidedAt} ${d.action}/${d.evidence.outcome}: ${d.reason}`);
      throw new Error(`${(err as Error).message}; decisions so far:\n${seen.join('\n')}`);
    });
  const load = async (rate: number): Promise<UacLoad> => {
    const l = await startUacLoad(peers, { host: kamailio.sipHost, port: kamailio.sipPort }, current.setId, { rate, holdMs: CALL_HOLD_MS });
    loads.push(l);
    return l;
  };
  /** Stops a load (its calls in progress end normally) and checks that not one of its calls failed. */
  const stopLoad = async (l: UacLoad, label: string) => {
    loads.splice(loads.indexOf(l), 1);
    const result = await l.stop();
    if (result.exitCode !== 0 || result.failed !== 0) throw new Error(`the ${label} SIPp UAC exited ${result.exitCode} with ${result.failed} failed calls:\n${result.output.slice(-4000)}`);
    expect(result.successful).toBeGreaterThan(0);
  };

  /**
   * Every second, each watched server's call rate (its worker's received calls over the last
   * RATE_WINDOW_MS) and calls in progress become its passive results, as the operator's Nagios
   * plugin would report them; each change of state is marked on the timeline.
   */
  interface Feeder {
    watch(hostName: string, ip: string, label: string): void;
    unwatch(hostName: string): void;
    /** The last state sent for the host's service (0 OK, 1 WARNING, 2 CRITICAL), or null before any. */
    state(hostName: string, service: string): number | null;
    stop(): Promise<void>;
  }
  function startFeeder(timeline: Timeline): Feeder {
    const hosts = new Map<string, { ip: string; label: string; seen: { at: number; incoming: number }[] }>();
    const last = new Map<string, number>();
    let running = true;
    const names = ['OK', 'WARNING', 'CRITICAL'];
    const send = async (host: string, label: string, service: string, code: 0 | 1 | 2, text: string, perf: string) => {
      await submitPassive(peers, host, service, code, `${names[code]} - ${text}|${perf}`);
      const key = `${host}\n${service}`;
      if (last.get(key) !== code) timeline.mark(`${service} of ${label} ${names[code]} (${text})`);
      last.set(key, code);
    };
    const loop = (async () => {
      while (running) {
        const now = Date.now();
        for (const [host, h] of hosts) {
          const { incoming, current } = workerStats(peers, h.ip);
          h.seen.push({ at: now, incoming });
          while (h.seen.length > 2 && now - h.seen[1]!.at >= RATE_WINDOW_MS) h.seen.shift();
          const first = h.seen[0]!;
          // A rate needs a few seconds of history: until then the server is only reported, not judged.
          if (now - first.at < 2000) continue;
          const rate = (incoming - first.incoming) / ((now - first.at) / 1000);
          const text = `${rate.toFixed(2)} calls/s, ${current} in progress`;
          await send(host, h.label, LOAD, rate >= CRIT_RATE ? 2 : rate >= WARN_RATE ? 1 : 0, text, `calls=${current} rate=${rate.toFixed(2)}`).catch(() => undefined);
          await send(host, h.label, UNDERLOAD, rate <= IDLE_RATE ? 1 : 0, text, `rate=${rate.toFixed(2)}`).catch(() => undefined);
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const feeder: Feeder = {
      watch: (host, ip, label) => void hosts.set(host, { ip, label, seen: [] }),
      unwatch: (host) => void hosts.delete(host),
      state: (host, service) => last.get(`${host}\n${service}`) ?? null,
      async stop() {
        running = false;
        await loop;
      },
    };
    feeders.push(feeder);
    return feeder;
  }

  /** The SIP service of one test: its VM type, dispatcher set and Nagios host names. */
  let current: { label: string; setId: number; vmTypeId: string; hostPrefix: string };

  /**
   * The operator's SIP server in cloud 1, in service before the broker knows it: a VM type bound
   * to the peers (recipe, Nagios, Kamailio) with the scale-up and underload thresholds; the server
   * imported, its worker answering, its Nagios host and its dispatcher row entered by hand; then
   * cloud 1's quota is full, so a clone can only go to cloud 2.
   */
  async function sipService(label: string, timeline: Timeline) {
    const setId = crypto.randomInt(1000, 60_000);
    sets.push(setId);
    const hostPrefix = `icdemo${run}-${label}-`;
    fs.mkdirSync(path.join(workDir, label));
    const { createVmType } = await gq(`mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }`, {
      i: {
        name: `opensips-${label}`,
        minInstances: 1,
        maxInstances: 2,
        scaleUpCooldownSeconds: 1,
        scaleDownCooldownSeconds: STABILISATION_SECONDS,
        configureRecipe: {
          sshKeyId,
          sshPort: peers.ssh.port,
          files: [{ path: `${workDir}/${label}/listen.cfg`, mode: 0o640, template: 'listen=udp:{{publicIp}}:5070\n' }],
          commands: [[peers.sipp.workerScript, 'start', '{{publicIp}}', '5070']],
          readiness: { udpPort: 5070, timeoutSeconds: 60 },
        },
        monitoring: {
          serverId: monitoringServerId,
          hostName: `${hostPrefix}{{vmId}}`,
          hostTemplate: hostTemplate(peers),
          metrics: [
            { service: LOAD, metric: 'sip_load' },
            { service: UNDERLOAD, metric: 'sip_idle' },
          ],
        },
        loadBalancer: { loadBalancerId, setId, uriTemplate: 'sip:{{publicIp}}:5070', attrs: 'weight=50', drainMetric: 'sip_load', drainTimeoutSeconds: 120, drainAction: 'ABORT' },
      },
    });
    const vmTypeId: string = createVmType.id;
    await gq(
      `mutation($id: ID!, $h: Int!) { setThresholds(vmTypeId: $id, thresholds: [
        { metric: "sip_load", active: true, warningHoldSeconds: $h, criticalHoldSeconds: $h, role: SCALE_UP, prepareOnWarning: true },
        { metric: "sip_idle", active: true, warningHoldSeconds: $h, criticalHoldSeconds: $h, role: SCALE_DOWN, prepareOnWarning: false }]) { id } }`,
      { id: vmTypeId, h: HOLD_SECONDS },
    );
    current = { label, setId, vmTypeId, hostPrefix };

    const home = sandbox.cloud('demo-c1').control;
    await home.setQuotas({ instances: (await home.listServers()).length + 1 });
    const { vmId, server } = await fx.importNewVm(`opensips-1-${label}`, undefined, vmTypeId);
    await home.setQuotas({ instances: (await home.listServers()).length });
    const ip = server.addresses.find((a) => a.kind === 'fixed')!.address;
    worker('start', ip);
    workers.add(ip);
    const hostName = `${hostPrefix}${vmId}`;
    fs.writeFileSync(path.join(peers.nagios.configDir, `${hostName}.cfg`), hostTemplate(peers).replaceAll('{{hostName}}', hostName).replaceAll('{{publicIp}}', ip));
    reloadNagios();
    await waitFor(async () => (await nagiosHostNames(peers)).includes(hostName), `Nagios to load ${hostName}`, 60_000, 250);
    await lbDb.execute(`INSERT INTO dispatcher (setid, destination, attrs, description) VALUES (?, ?, 'weight=50', 'operator')`, [setId, `sip:${ip}:5070`]);
    await rpc(kamailio.reloadMethod);
    expect(await kamailioTargets(setId)).toEqual([`sip:${ip}:5070`]);

    const feeder = startFeeder(timeline);
    feeder.watch(hostName, ip, 'opensips-1');
    return { vmId, ip, hostName, feeder, uri: `sip:${ip}:5070` };
  }

  /** Base load, then WARNING: the prepare, checked, and its standby image ready. */
  async function overloadUntilPrepared(timeline: Timeline, original: { vmId: string; ip: string; hostName: string; feeder: Feeder }) {
    const base = await load(1);
    await waitFor(() => workerStats(peers, original.ip).incoming >= 3, 'calls to reach opensips-1', 60_000, 250);
    await waitFor(() => original.feeder.state(original.hostName, LOAD) === 0, 'opensips-1 to report its load OK', 30_000, 250);
    timeline.mark('more load offered (base + 1 call/s)');
    const peak1 = await load(1);
    const prepare = await decision(current.vmTypeId, 'a PREPARE decision', (d) => d.action === 'PREPARE');
    timeline.mark(`PREPARE decided: ${prepare.reason}`, prepare.decidedAt);
    expect(prepare.metric).toBe('sip_load');
    expect(prepare.evidence).toMatchObject({ outcome: 'PREPARE', sourceVmId: original.vmId, targetCloudId: fx.targetCloudId, hold: { level: 'WARNING' } });
    // Why cloud 2: cloud 1 (the home cloud) is excluded by its full quota, and the placement says so.
    const placement = (prepare.evidence.placement as { candidates: { cloudId: string; eligible: boolean; rank: number | null; reasons: string[] }[] }).candidates;
    expect(placement.find((c) => c.cloudId === fx.targetCloudId)).toMatchObject({ eligible: true, rank: 1 });
    const home = placement.find((c) => c.cloudId === fx.sourceCloudId)!;
    expect(home.eligible).toBe(false);
    expect(home.reasons.join('; ')).toMatch(/quota|instances/i);
    const standbyJob = await waitForJobState(broker.url, fx.tenant.token, prepare.cloneJobId!, ['DONE', 'FAILED', 'CANCELLED'], 120_000);
    expect(standbyJob.error).toBeNull();
    expect(standbyJob.state).toBe('DONE');
    timeline.mark('standby image ready in cloud 2', standbyJob.finishedAt);
    const { cloneJob } = await gq(`query($id: ID!) { cloneJob(id: $id) { standbyImage { id cloudId } } }`, { id: prepare.cloneJobId });
    expect(cloneJob.standbyImage.cloudId).toBe(fx.targetCloudId);
    return { base, peak1, standbyImageId: cloneJob.standbyImage.id as string };
  }

  /** CRITICAL: the commit, a clone from the standby in cloud 2, in service; the moment its worker takes its first call. */
  async function overloadUntilCommitted(timeline: Timeline, standbyImageId: string, expectReason?: string) {
    timeline.mark('more load offered (base + 1 + 2 calls/s)');
    const peak2 = await load(2);
    const up = await decision(current.vmTypeId, 'a SCALE_UP decision', (d) => d.action === 'SCALE_UP');
    timeline.mark(`SCALE_UP decided: ${up.reason}`, up.decidedAt);
    expect(up.evidence).toMatchObject({ outcome: 'SCALE_UP', targetCloudId: fx.targetCloudId, standbyImageId, hold: { level: 'CRITICAL' } });
    if (expectReason) expect(up.reason).toContain(expectReason);
    const job = await waitForJobState(broker.url, fx.tenant.token, up.cloneJobId!, ['DONE', 'FAILED', 'CANCELLED'], 180_000);
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');
    // Booted from the standby: no snapshot, transfer or import; then configured, monitored, balanced.
    expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(['BOOT', 'NETWORK', 'CONFIGURE', 'MONITORING', 'LOAD_BALANCER']);
    const clone = job.resultVm as { id: string; serverId: string; addresses: { address: string; kind: string }[]; cloud: { id: string } };
    expect(clone.cloud.id).toBe(fx.targetCloudId);
    const ip = clone.addresses.find((a) => a.kind === 'floating')!.address;
    workers.add(ip);
    const phases = (job.phases as { phase: string; durationMs: number | null }[]).map((p) => `${p.phase} ${((p.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ');
    timeline.mark(`clone job DONE, in Kamailio (${phases})`, job.finishedAt);
    const before = workerStats(peers, ip).incoming;
    await waitFor(() => workerStats(peers, ip).incoming > before, `a call to reach the clone at ${ip}`, 60_000, 100);
    timeline.mark('capacity ready: first call on the clone');
    expect((await kamailioTargets(current.setId)).sort()).toEqual(expect.arrayContaining([`sip:${ip}:5070`]));
    return { peak2, up, job, clone, ip, hostName: `${current.hostPrefix}${clone.id}` };
  }

  beforeAll(async () => {
    sandbox = await startSandboxClouds({ name: 'demo-c1', addressPools: pools(1) }, { name: 'demo-c2', addressPools: pools(3) });
    factory = labCloudApiFactory();
    cloud2 = sandboxApi(factory, sandbox.cloud('demo-c2'));
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, {
      SCHEDULER_TICK_SECONDS: '1',
      MONITORING_POLL_SECONDS: '1',
      CLOUD_HEALTH_INTERVAL_SECONDS: '1',
      SIP_REGISTER_TIMEOUT_SECONDS: '15',
      RATE_LIMIT_PER_MINUTE: '100000',
    });
    fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'demo-c1', 'demo-c2');
    lbDb = await mysql.createConnection({ ...peers.mysql });
    ({ sshKeyId, monitoringServerId } = await registerPeersNagios(broker.url, fx.tenant.token, peers, `peers-nagios-demo-${run}`));
    const { registerLoadBalancer } = await gq(`mutation($i: LoadBalancerInput!) { registerLoadBalancer(input: $i) { id } }`, {
      i: { name: `peers-dispatcher-demo-${run}`, kind: 'KAMAILIO_DISPATCHER', db: peers.mysql, table: kamailio.table, rpcUrl: kamailio.rpcUrl, reloadMethod: kamailio.reloadMethod, listMethod: kamailio.listMethod },
    });
    loadBalancerId = registerLoadBalancer.id;
  });

  afterAll(async () => {
    for (const f of feeders) await f.stop();
    for (const l of loads) await l.stop();
    for (const ip of workers) worker('stop', ip);
    for (const setId of sets) await lbDb?.execute(`DELETE FROM dispatcher WHERE setid = ?`, [setId]);
    if (sets.length) await rpc(kamailio.reloadMethod);
    await lbDb?.end();
    await sandbox?.cloud('demo-c1').control.clearFaults();
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
    const ours = fs.readdirSync(peers.nagios.configDir).filter((f) => f.startsWith(`icdemo${run}-`));
    for (const file of ours) fs.rmSync(path.join(peers.nagios.configDir, file));
    try {
      if (ours.length) reloadNagios();
    } catch (err) {
      // Another test's file may not verify right now: our hosts go at the next reload anyone makes.
      console.warn(`Nagios not reloaded after removing this run's hosts: ${(err as Error).message}`);
    }
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('prepares on WARNING, commits into cloud 2 on CRITICAL, serves calls on the clone, and removes it after the load is gone: no call fails', async () => {
    const timeline = new Timeline();
    const original = await sipService('peak', timeline);
    const { base, peak1, standbyImageId } = await overloadUntilPrepared(timeline, original);
    const { peak2, up, job, clone, ip, hostName } = await overloadUntilCommitted(timeline, standbyImageId);
    original.feeder.watch(hostName, ip, 'the clone');

    // The clone dies with its server: its worker stops the moment the server is gone (a removal that did not drain would fail calls).
    let killedAt: number | null = null;
    const watchdog = (async () => {
      while (killedAt === null) {
        if ((await cloud2.getServer(clone.serverId).catch(() => undefined)) === null) {
          worker('stop', ip);
          killedAt = Date.now();
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // The peak passes: back to OK on both servers, then underload on both.
    timeline.mark('load reduced (base + 1 call/s)');
    await stopLoad(peak2, 'peak');
    await waitFor(() => original.feeder.state(original.hostName, LOAD) === 0 && original.feeder.state(hostName, LOAD) === 0, 'both servers to report their load OK', 90_000, 250);
    timeline.mark('load reduced (base only)');
    await stopLoad(peak1, 'second peak');
    const down = await decision(current.vmTypeId, 'a SCALE_DOWN decision', (d) => d.action === 'SCALE_DOWN', 180_000);
    timeline.mark(`SCALE_DOWN decided: ${down.reason}`, down.decidedAt);
    expect(down.metric).toBe('sip_idle');
    expect(down.evidence).toMatchObject({ outcome: 'SCALE_DOWN', removeVmId: clone.id });
    // Not before the stabilisation window after the clone finished.
    expect(new Date(down.decidedAt).getTime()).toBeGreaterThanOrEqual(new Date(job.finishedAt).getTime() + STABILISATION_SECONDS * 1000);
    const removal = await waitFor(async () => {
      const { scaleDownJob } = await gq(`query($id: ID!) { scaleDownJob(id: $id) { state error { code message } phases { phase durationMs } vm { state } finishedAt } }`, { id: down.evidence.scaleDownJobId });
      return ['DONE', 'FAILED', 'CANCELLED'].includes(scaleDownJob.state) ? scaleDownJob : null;
    }, 'the scale-down to end', 180_000, 250);
    expect(removal).toMatchObject({ state: 'DONE', error: null, vm: { state: 'DELETED' } });
    expect(removal.phases.map((p: { phase: string }) => p.phase)).toEqual(['LB_REMOVE', 'DRAIN', 'DELETE', 'UNMONITOR']);
    const removalPhases = (removal.phases as { phase: string; durationMs: number | null }[]).map((p) => `${p.phase} ${((p.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ');
    timeline.mark(`scale-down DONE: the clone drained and deleted (${removalPhases})`, removal.finishedAt);
    await waitFor(() => killedAt !== null, 'the watchdog to see the clone server gone', 30_000, 100);
    await watchdog;
    original.feeder.unwatch(hostName);

    // One scale-up, one scale-down; the original alone in Kamailio, still taking calls; not one call failed.
    const all = await decisionsOf(current.vmTypeId);
    expect(all.filter((d) => d.action === 'SCALE_UP').map((d) => d.id)).toEqual([up.id]);
    expect(all.filter((d) => d.action === 'SCALE_DOWN')).toHaveLength(1);
    expect(await kamailioTargets(current.setId)).toEqual([original.uri]);
    expect(await cloud2.getServer(clone.serverId)).toBeNull();
    expect(await nagiosHostNames(peers)).not.toContain(hostName);
    const after = workerStats(peers, original.ip).incoming;
    await waitFor(() => workerStats(peers, original.ip).incoming > after, 'calls to opensips-1 after the scale-down', 60_000, 250);
    await stopLoad(base, 'base');
    await original.feeder.stop();
    timeline.print(`demonstrator timeline (holds ${HOLD_SECONDS} s, stabilisation ${STABILISATION_SECONDS} s, scheduler tick 1 s):`);
  });

  it('with cloud 1 down after the prepare, the commit still brings up capacity from the standby image', async () => {
    const timeline = new Timeline();
    const original = await sipService('down', timeline);
    const { base, peak1, standbyImageId } = await overloadUntilPrepared(timeline, original);

    // Cloud 1 is attacked: every API call to it fails from now on, and the prober sees it.
    await sandbox.cloud('demo-c1').control.injectFault({ operation: '*', count: 'always' });
    timeline.mark('cloud 1 down (every API call fails)');
    await waitFor(
      async () => (await gq(`query($id: ID!) { cloud(id: $id) { health } }`, { id: fx.sourceCloudId })).cloud.health === 'UNREACHABLE',
      'the health prober to find cloud 1 UNREACHABLE',
      60_000,
      250,
    );
    timeline.mark('cloud 1 UNREACHABLE (health prober)');
    const { peak2, up } = await overloadUntilCommitted(timeline, standbyImageId, 'the origin cloud demo-c1 is unreachable');
    expect(up.evidence.originUnreachable).toMatchObject({ cloudId: fx.sourceCloudId, name: 'demo-c1' });

    for (const [l, label] of [
      [peak2, 'peak'],
      [peak1, 'second peak'],
      [base, 'base'],
    ] as const) {
      await stopLoad(l, label);
    }
    await sandbox.cloud('demo-c1').control.clearFaults();
    await original.feeder.stop();
    timeline.print('demonstrator timeline, cloud 1 down after the prepare:');
  });
});
