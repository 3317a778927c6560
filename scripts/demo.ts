/**
 * `npm run demo`: the autoscaler's loop on one machine, with nothing else running. It starts two
 * sandbox OpenStack clouds (in this process), a broker process (`node dist/src/main.js`) on an
 * embedded PostgreSQL in a temporary directory, registers a tenant, both clouds and an imported
 * SIP-server-like VM whose VM type has a two-phase SCALE_UP metric and a SCALE_DOWN metric, then
 * plays a scripted load curve through `recordSamples` (OK -> WARNING -> CRITICAL -> OK -> underload)
 * and prints the scaling decisions and the clone and scale-down phases as they arrive on the
 * broker's subscriptions, timed from the load onset. It expects a PREPARE (standby image in the
 * partner cloud), a SCALE_UP that boots from that standby, and a SCALE_DOWN of the clone; it exits
 * 1 if they do not all happen before the deadline.
 *
 *   npm run demo                 # about a minute; stops everything at the end
 *   npm run demo -- --keep       # leaves the broker and the clouds up until Ctrl-C, to look around in the API
 *   npm run demo -- --deadline 300
 *
 * Everything it starts (the broker process and, through it, PostgreSQL; the sandbox clouds; the
 * temporary directory) is stopped and removed on exit, on Ctrl-C and on SIGTERM.
 */
import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { IntercloudClient } from '../client/sdk';
import { startSandbox, Sandbox, SandboxCloud } from '../sandbox';
import { bootDemoServer } from '../sandbox/demo-server';

/** The demo's VM type and thresholds: short holds and cooldowns so the whole loop takes about a minute. */
export const DEMO_SETTINGS = {
  vmType: { name: 'opensips', minInstances: 1, maxInstances: 3, scaleUpCooldownSeconds: 5, scaleDownCooldownSeconds: 10 },
  /** Calls per second on the SIP server: WARNING from 60, CRITICAL from 80; underloaded below 20. */
  load: { metric: 'sip_calls', warningAt: 60, criticalAt: 80, warningHoldSeconds: 4, criticalHoldSeconds: 4 },
  underload: { metric: 'sip_underload', below: 20, holdSeconds: 5 },
  /** The broker's scheduler tick. */
  tickSeconds: 1,
} as const;

type LoadPhase = 'BASELINE' | 'WARNING' | 'CRITICAL' | 'CALM' | 'UNDERLOAD';

/** The calls per second the original server sees in each phase of the curve (split evenly once a clone serves). */
export const LOAD_CURVE: Record<LoadPhase, number> = { BASELINE: 40, WARNING: 70, CRITICAL: 95, CALM: 45, UNDERLOAD: 8 };

/** A sample's state for a load value, as a monitoring check with the demo's thresholds would report it. */
export function loadState(value: number): 'OK' | 'WARNING' | 'CRITICAL' {
  if (value >= DEMO_SETTINGS.load.criticalAt) return 'CRITICAL';
  if (value >= DEMO_SETTINGS.load.warningAt) return 'WARNING';
  return 'OK';
}

/** The SCALE_DOWN metric's state: WARNING (held, it asks for a removal) while the load is below the underload line. */
export function underloadState(value: number): 'OK' | 'WARNING' {
  return value < DEMO_SETTINGS.underload.below ? 'WARNING' : 'OK';
}

const ROOT = path.join(__dirname, '..', '..');
const BROKER_MAIN = path.join(ROOT, 'dist', 'src', 'main.js');

class DemoError extends Error {}

/** GraphQL over HTTP for the set-up mutations; an error names the operation and what the broker said. */
async function gql<T = any>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  if (body.errors?.length) {
    const op = /\{\s*(\w+)/.exec(query)?.[1] ?? 'request';
    throw new DemoError(`${op}: ${body.errors.map((e) => `${e.message}${e.extensions?.code ? ` (${String(e.extensions.code)})` : ''}`).join('; ')}`);
  }
  return body.data as T;
}

/** Stops what the demo started, last started first, each once. */
class Cleanups {
  private readonly steps: { what: string; run: () => Promise<void> | void }[] = [];
  private running: Promise<void> | null = null;

  add(what: string, run: () => Promise<void> | void): void {
    this.steps.push({ what, run });
  }

  runAll(log: (line: string) => void): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.run();
        } catch (err) {
          log(`could not ${step.what}: ${(err as Error).message}`);
        }
      }
    })();
    return this.running;
  }
}

interface BrokerChild {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
  output(): string;
}

/**
 * The broker as its own process, in its own process group (so a Ctrl-C in the terminal reaches
 * only the demo, which then stops the broker in order: API, jobs, then its PostgreSQL).
 */
async function startBroker(dataDir: string, adminToken: string, logFile: string, cleanups: Cleanups): Promise<BrokerChild> {
  if (!fs.existsSync(BROKER_MAIN)) throw new DemoError(`${BROKER_MAIN} is missing: run npm run build (npm run demo does)`);
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [BROKER_MAIN], {
    detached: true,
    stdio: ['ignore', 'pipe', log],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? os.homedir(),
      PORT: '0',
      HOST: '127.0.0.1',
      INTERCLOUD_DATA_DIR: dataDir,
      INTERCLOUD_ADMIN_TOKEN: adminToken,
      INTERCLOUD_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
      // The sandbox clouds listen on plain HTTP on loopback, which the broker refuses by default.
      CLOUD_ALLOW_INSECURE_HTTP: 'true',
      CLOUD_ENDPOINT_ALLOW: '127.0.0.0/8',
      SCHEDULER_TICK_SECONDS: String(DEMO_SETTINGS.tickSeconds),
      LOG_LEVEL: process.env.DEMO_BROKER_LOG_LEVEL ?? 'info',
    },
  });
  fs.closeSync(log);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    fs.appendFileSync(logFile, d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Stopped on any exit from here on, also a Ctrl-C while it is still starting (its own process group would outlive us).
  const starting: BrokerChild = { child, url: '', exited, output: () => out };
  cleanups.add('stop the broker', () => stopBroker(starting));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DemoError(`the broker did not start within 120 s; its log: ${logFile}`)), 120_000);
    const check = () => {
      const m = /^Intercloud broker listening on (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new DemoError(`the broker exited before listening; its log: ${logFile}`));
    });
  });
  return { ...starting, url };
}

/** SIGTERM (the broker stops its API, its jobs and its PostgreSQL), SIGKILL to the group if it is still there after 30 s. */
async function stopBroker(b: BrokerChild): Promise<void> {
  if (b.child.exitCode !== null || b.child.signalCode !== null) return;
  b.child.kill('SIGTERM');
  const killed = await Promise.race([b.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 30_000).unref())]);
  if (killed) {
    try {
      process.kill(-b.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await b.exited;
  }
}

function cloudInput(cloud: SandboxCloud, extraDefaults: Record<string, string> = {}) {
  const info = cloud.info();
  const p = info.credentials.password;
  return {
    name: cloud.name,
    authUrl: info.authUrl,
    region: info.region,
    credentials: { username: p.username, password: p.password, projectName: p.projectName, userDomainName: p.userDomainName, projectDomainName: p.projectDomainName },
    bandwidthMbps: 1000,
    costPerHour: 0.1,
    defaults: { flavor: 'm1.tiny', ...extraDefaults },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false }, deadline: { type: 'string', default: '240' } } });
  const deadlineSeconds = Number(values.deadline);
  if (!Number.isInteger(deadlineSeconds) || deadlineSeconds < 30) throw new DemoError(`--deadline must be a whole number of seconds, at least 30 (got ${values.deadline})`);

  const started = Date.now();
  let onset: number | null = null;
  const clock = () => {
    const ms = Date.now() - (onset ?? started);
    return `${onset === null ? 'setup' : 'onset'}${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(1).padStart(5)} s`;
  };
  const say = (what: string, detail = '') => console.log(`${clock()}  ${what.padEnd(22)} ${detail}`.trimEnd());

  const cleanups = new Cleanups();
  /** Set when the loop was shown in full: a Ctrl-C after that (the end of --keep) is a normal end. */
  let finishedOk = false;
  let stopping = false;
  const stopAll = async (why: string) => {
    if (stopping) return cleanups.runAll(console.log);
    stopping = true;
    console.log(`\nstopping (${why}): the broker and its PostgreSQL, the sandbox clouds, the temporary directory`);
    await cleanups.runAll(console.log);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      void stopAll(signal).then(() => process.exit(finishedOk ? 0 : 130));
    });
  }

  try {
    // As root, embedded PostgreSQL runs as the `postgres` user: its directory must be reachable by that user (mkdtemp makes 0700).
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-demo-'));
    fs.chmodSync(work, 0o755);
    cleanups.add('remove the temporary directory', () => fs.rmSync(work, { recursive: true, force: true }));
    const logFile = path.join(work, 'broker.log');
    console.log(`work directory ${work} (broker log: ${logFile})`);

    const sandbox: Sandbox = await startSandbox({
      dataDir: path.join(work, 'sandbox'),
      clouds: [
        { name: 'operator-a', port: 0 },
        { name: 'operator-b', port: 0 },
      ],
    });
    cleanups.add('stop the sandbox clouds', () => sandbox.stop());
    const home = sandbox.cloud('operator-a');
    const partner = sandbox.cloud('operator-b');
    say('clouds up', `operator-a ${home.info().authUrl}, operator-b ${partner.info().authUrl}`);

    const adminToken = `icb_demo_${crypto.randomBytes(24).toString('base64url')}`;
    const brokerDir = path.join(work, 'broker');
    fs.mkdirSync(brokerDir, { mode: 0o755 });
    const broker = await startBroker(brokerDir, adminToken, logFile, cleanups);
    say('broker up', `${broker.url} (pid ${broker.child.pid}, embedded PostgreSQL in ${brokerDir})`);

    // Tenant, token, clouds, VM type, thresholds: what an operator would register.
    const { createTenant } = await gql(broker.url, adminToken, `mutation { createTenant(input: { name: "demo-operator" }) { id } }`);
    const { createApiToken } = await gql(broker.url, adminToken, `mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { secret } }`, {
      input: { tenantId: createTenant.id, role: 'OPERATOR', name: 'demo' },
    });
    const token: string = createApiToken.secret;
    const api = <T = any>(query: string, variables?: Record<string, unknown>) => gql<T>(broker.url, token, query, variables);
    const register = `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`;
    const homeId: string = (await api(register, { input: cloudInput(home) })).registerCloud.id;
    const partnerNets = partner.info().networks;
    const partnerId: string = (await api(register, { input: cloudInput(partner, { network: partnerNets.private.name, floatingNetwork: partnerNets.public.name }) })).registerCloud.id;
    const { createVmType } = await api(`mutation($input: VmTypeInput!) { createVmType(input: $input) { id } }`, { input: DEMO_SETTINGS.vmType });
    const vmTypeId: string = createVmType.id;
    const { load, underload } = DEMO_SETTINGS;
    await api(`mutation($id: ID!, $t: [ThresholdInput!]!) { setThresholds(vmTypeId: $id, thresholds: $t) { id } }`, {
      id: vmTypeId,
      t: [
        { metric: load.metric, active: true, warningHoldSeconds: load.warningHoldSeconds, criticalHoldSeconds: load.criticalHoldSeconds, role: 'SCALE_UP', prepareOnWarning: true },
        { metric: underload.metric, active: true, warningHoldSeconds: underload.holdSeconds, criticalHoldSeconds: underload.holdSeconds, role: 'SCALE_DOWN', prepareOnWarning: false },
      ],
    });
    const server = await bootDemoServer(home, 'sip-1');
    const { importVm } = await api(`mutation($input: ImportVmInput!) { importVm(input: $input) { id name } }`, { input: { cloudId: homeId, serverId: server.id, vmTypeId } });
    const originalId: string = importVm.id;
    // operator-a is full: the matchmaker must place the standby and the clone in operator-b.
    await home.control.setQuotas({ instances: (await home.control.listServers()).length });
    say('registered', `tenant demo-operator, clouds operator-a (full) and operator-b, VM type opensips, VM sip-1 (${originalId})`);
    say('thresholds', `${load.metric}: WARNING >= ${load.warningAt} held ${load.warningHoldSeconds} s prepares, CRITICAL >= ${load.criticalAt} held ${load.criticalHoldSeconds} s commits; ${underload.metric} < ${underload.below} held ${underload.holdSeconds} s on every instance scales down (stabilisation ${DEMO_SETTINGS.vmType.scaleDownCooldownSeconds} s)`);

    // What the demo waits for, filled in by the subscriptions.
    const doneJobs = new Set<string>();
    /** The first time each step of the loop happened, for the timeline at the end. */
    const milestones = new Map<string, number>();
    const mark = (what: string) => {
      if (!milestones.has(what)) milestones.set(what, Date.now());
    };
    const seen = { prepareJob: null as string | null, commitJob: null as string | null, cloneVm: null as string | null, scaleDownJob: null as string | null, scaleDownDone: false, failed: null as string | null };
    const client = new IntercloudClient({ url: broker.url, token, webSocketImpl: WebSocket });
    cleanups.add('close the subscriptions', () => client.close());
    const watchedScaleDowns = new Set<string>();
    client.scalingDecisions(
      {
        next: (d) => {
          const ev = d.evidence as Record<string, any>;
          const outcome = String(ev.outcome ?? d.action);
          say(`DECISION ${d.action === 'NONE' ? `(${outcome})` : d.action}`, d.reason);
          if (d.action !== 'NONE') mark(`${d.action} decision`);
          if (d.action === 'PREPARE' && d.cloneJobId) seen.prepareJob = d.cloneJobId;
          if (d.action === 'SCALE_UP' && d.cloneJobId) {
            seen.commitJob = d.cloneJobId;
            say('', ev.standbyImageId ? `the commit boots from the prepared standby (standbyImageId ${ev.standbyImageId}) in ${ev.targetCloudId === partnerId ? 'operator-b' : ev.targetCloudId}` : 'no fresh standby image: a full clone');
          }
          const sdJob = ev.scaleDownJobId as string | undefined;
          if (d.action === 'SCALE_DOWN' && sdJob && !watchedScaleDowns.has(sdJob)) {
            watchedScaleDowns.add(sdJob);
            seen.scaleDownJob = sdJob;
            client.scaleDownJobEvents(sdJob, {
              next: (e) => {
                if (e.kind === 'PROGRESS') return;
                say(`scale-down ${e.phase}`, `${e.kind}${e.message ? `: ${e.message}` : ''}`);
                if (e.kind === 'DONE') {
                  seen.scaleDownDone = true;
                  mark('clone removed');
                }
                if (e.kind === 'FAILED' || e.kind === 'CANCELLED') seen.failed = `scale-down job ${sdJob} ${e.kind}: ${e.message ?? ''}`;
              },
              error: (err) => say('subscription error', String(err)),
            });
          }
        },
        error: (err) => say('subscription error', String(err)),
      },
      { vmTypeId, afterSeq: 0 },
    );
    client.cloneJobUpdates(
      {
        next: (e) => {
          if (e.kind === 'PROGRESS') return;
          const which = e.jobId === seen.prepareJob ? 'standby' : e.jobId === seen.commitJob ? 'clone' : `job ${e.jobId.slice(0, 8)}`;
          say(`${which} ${e.phase}`, `${e.kind}${e.message ? `: ${e.message}` : ''}`);
          if (e.kind === 'DONE') doneJobs.add(e.jobId);
          if (e.kind === 'DONE' && e.jobId === seen.prepareJob) mark('standby image ready');
          if (e.kind === 'FAILED' || e.kind === 'CANCELLED') seen.failed = `clone job ${e.jobId} ${e.kind}: ${e.message ?? ''}`;
        },
        error: (err) => say('subscription error', String(err)),
      },
      { afterSeq: 0 },
    );

    // The load curve: one sample per VM and metric a second, observed now, as a monitoring poller would push them.
    let phase = 'BASELINE' as LoadPhase;
    let phaseSince = Date.now();
    const enter = (next: LoadPhase) => {
      phase = next;
      phaseSince = Date.now();
      if (next === 'WARNING') onset = Date.now();
      mark(`load ${next}`);
      const shared = seen.cloneVm && next !== 'WARNING' && next !== 'CRITICAL';
      const each = shared ? Math.round(LOAD_CURVE[next] / 2) : LOAD_CURVE[next];
      say(`LOAD ${next}`, `${LOAD_CURVE[next]} calls/s ${shared ? `shared by sip-1 and its clone (${each} each)` : 'on sip-1'}: ${load.metric} ${loadState(each)}, ${underload.metric} ${underloadState(each)}`);
    };
    enter('BASELINE');
    const feed = async () => {
      const vms = [originalId, ...(seen.cloneVm ? [seen.cloneVm] : [])];
      const total = LOAD_CURVE[phase];
      // Until the clone serves, the original takes every call; then they share them.
      const perVm = phase === 'WARNING' || phase === 'CRITICAL' ? [total] : vms.map(() => Math.round(total / vms.length));
      const observedAt = new Date().toISOString();
      const samples = vms.flatMap((vmId, i) => {
        const value = perVm[i] ?? perVm[0];
        return [
          { vmId, metric: load.metric, state: loadState(value), value, observedAt },
          { vmId, metric: underload.metric, state: underloadState(value), value, observedAt },
        ];
      });
      await api(`mutation($s: [SampleInput!]!) { recordSamples(samples: $s) }`, { s: samples });
    };
    const prepareDone = () => !!seen.prepareJob && doneJobs.has(seen.prepareJob);
    const commitDone = () => !!seen.commitJob && doneJobs.has(seen.commitJob);
    const held = (seconds: number) => Date.now() - phaseSince >= seconds * 1000;
    const deadline = started + deadlineSeconds * 1000;
    while (!seen.scaleDownDone && !seen.failed && Date.now() < deadline) {
      await feed();
      if (phase === 'BASELINE' && held(3)) enter('WARNING');
      else if (phase === 'WARNING' && prepareDone() && held(load.warningHoldSeconds + 1)) enter('CRITICAL');
      else if (phase === 'CRITICAL' && commitDone()) {
        const { cloneJob } = await api(`query($id: ID!) { cloneJob(id: $id) { resultVm { id name cloud { name } } } }`, { id: seen.commitJob });
        seen.cloneVm = cloneJob.resultVm.id;
        mark('capacity ready');
        say('capacity ready', `${cloneJob.resultVm.name} in ${cloneJob.resultVm.cloud.name} takes half of the calls`);
        enter('CALM');
      } else if (phase === 'CALM' && held(3)) enter('UNDERLOAD');
      await new Promise((r) => setTimeout(r, 1000));
    }

    const missing = [
      !seen.prepareJob && 'a PREPARE decision',
      !prepareDone() && 'the standby image prepared (STANDBY job DONE)',
      !seen.commitJob && 'a SCALE_UP decision',
      !commitDone() && 'the clone DONE',
      !seen.scaleDownJob && 'a SCALE_DOWN decision',
      !seen.scaleDownDone && 'the scale-down job DONE',
    ].filter((m): m is string => !!m);
    if (seen.failed) missing.unshift(seen.failed);

    if (onset !== null) {
      console.log('\ntimeline (from the load onset):');
      for (const [what, at] of milestones) console.log(`  ${((at - onset) / 1000).toFixed(1).padStart(6)} s  ${what}`);
    }
    const { scalingDecisions } = await api(`query($t: ID) { scalingDecisions(vmTypeId: $t, first: 100) { action } }`, { t: vmTypeId });
    console.log('');
    if (missing.length === 0) console.log(`DEMO OK: prepare, commit from the standby and scale-down in ${((Date.now() - (onset ?? started)) / 1000).toFixed(1)} s from the load onset (${scalingDecisions.length} decisions stored)`);
    else console.log(`DEMO FAILED within the ${deadlineSeconds} s deadline; missing: ${missing.join('; ')} (broker log: ${logFile})`);

    const example = `{ scalingDecisions(vmTypeId: "${vmTypeId}", first: 20) { decidedAt action reason cloneJobId } }`;
    console.log(`\nThe same state in the API${values.keep ? '' : ' (start with --keep to leave it running)'}:`);
    console.log(`  GraphQL:   ${broker.url}   (the dashboard: ${broker.url.replace(/\/graphql$/, '/')})`);
    console.log(`  token:     ${token}   (tenant demo-operator, OPERATOR; admin token: ${adminToken})`);
    console.log(`  example:   curl -s ${broker.url} -H 'content-type: application/json' -H 'authorization: Bearer ${token}' \\`);
    console.log(`               -d '${JSON.stringify({ query: example })}'`);

    finishedOk = missing.length === 0;
    if (values.keep) {
      console.log('\n--keep: the broker and the clouds stay up; Ctrl-C stops them.');
      await new Promise<never>(() => undefined);
    }
    await stopAll('done');
    return missing.length === 0 ? 0 : 1;
  } catch (err) {
    console.error(`demo failed: ${err instanceof DemoError ? err.message : (err as Error).stack ?? err}`);
    await stopAll('error');
    return 1;
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof DemoError ? err.message : err);
      process.exit(err instanceof DemoError ? 2 : 1);
    },
  );
}
