/**
 * Transfer benchmark: how many bytes and how much time moving a VM image between two sides
 * costs, for the broker's plain relay and for the peers a user would reach for instead (casync,
 * rsync), side by side in one run on the same images. It prints numbers and a verdict per goal;
 * it asserts nothing.
 *
 *   npm run bench:transfer -- --size 512MiB --link 1gbit
 *
 * The images are built here: a raw ext4 disk of --size filled (to about 60%) from this machine's
 * /usr with `mkfs.ext4 -d` (v1), and a v2 with about 10% of those files rewritten (same sizes, new
 * bytes: a package update, roughly). Each row moves v1 (first transfer: the target has nothing)
 * and then v2 (repeat: the target has v1):
 *   - relay: cloneVm between two sandbox clouds through a broker process, both Glance legs
 *     throttled to the link rate (as bench:clone does); time to ACTIVE (job created -> BOOT
 *     done) and the TRANSFER phase;
 *   - casync: `casync make` of the image into a chunk store on the source side, `casync extract`
 *     on the target side from that store served over HTTP through a throttled TCP proxy (repeat:
 *     with the target's v1 as --seed); time = make + extract;
 *   - rsync: an rsync daemon on the target side behind the same throttled proxy, the client
 *     pushing the raw image (repeat: onto the target's v1, rsync's delta algorithm; no -z);
 *   - agents: the chunked engine of issue 10 (agentsRows below): a clone through a transfer agent
 *     beside each cloud, the agents' link throttled and counted by the peers' TCP proxy.
 * Bytes on the link: counted by the proxy (both directions) for casync and rsync, the job's
 * relayed bytes for the relay. CPU and peak RSS per side: /proc of the broker (which plays both
 * sides in the relay), GNU time's rusage for the casync and rsync processes. Finally the relay
 * with the link unthrottled against a raw HTTP pipe of the same image (goal >= 0.9).
 *
 * Tools: mkfs.ext4 (e2fsprogs), casync, rsync, GNU time; the bench says how to install what is
 * missing. Environment as bench:clone (BENCH_POSTGRES_URL, BENCH_BROKER_LOG_LEVEL, ...).
 */
import 'reflect-metadata';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startSandbox } from '../../sandbox';
import { transferInChildProcess } from '../../sandbox/bench/image-transfer';
import { SandboxCloud } from '../../sandbox';
import { CloneFixture, setUpClone } from '../support/clone-fixture';
import { gqlOk } from '../support/graphql';
import { labCloudApiFactory, sandboxApi } from '../support/sandbox';
import type { CloudApi } from '../../src/ports/cloud-api.port';
import { BrokerMonitor, cleanUpAll, CloneRun, cloneOnce, createDatabase, flushDisk, fmtBytes, newBrokerIdentity, onCleanup, parseLink, parseSize, spawnBroker, table } from './clone.bench';

const MiB = 1024 * 1024;
const MAIN_JS = path.resolve(__dirname, '../../src/main.js');
const GiB = 1024 * MiB;
const RELAY_GOAL = 0.9;
/** Share of the image's files v2 rewrites. */
const CHANGED_SHARE = 0.1;
/** How full v1's filesystem gets. */
const FILL_SHARE = 0.6;

const USAGE = `usage: npm run bench:transfer -- [--size SIZE] [--link RATE] [--timeout SECONDS]
  --size SIZE        raw ext4 image size (default 512MiB; 2GiB is the issue's reference, mind the shared disk)
  --link RATE        the link between the two sides (default 1gbit)
  --timeout SECONDS  give up after this long (default 3600)`;

/** What each tool is and which Debian package brings it. */
const TOOLS: { bin: string; pkg: string }[] = [
  { bin: 'mkfs.ext4', pkg: 'e2fsprogs' },
  { bin: 'casync', pkg: 'casync' },
  { bin: 'rsync', pkg: 'rsync' },
  { bin: '/usr/bin/time', pkg: 'time' },
];

function missingTools(): { bin: string; pkg: string }[] {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return TOOLS.filter(({ bin }) => (bin.startsWith('/') ? !fs.existsSync(bin) : !dirs.some((d) => fs.existsSync(path.join(d, bin)))));
}

const log = (message = ''): void => void console.log(message);
const progress = (message: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

// ---------------------------------------------------------------------------------------------
// The images

export interface Images {
  v1: string;
  v2: string;
  size: number;
  files: number;
  changedFiles: number;
  changedBytes: number;
  dataBytes: number;
}

/** Regular files under /usr up to `budget` bytes, in a stable order (so two runs build alike). */
function systemFiles(budget: number): { rel: string; size: number }[] {
  const out: { rel: string; size: number }[] = [];
  let total = 0;
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      return;
    }
    for (const e of entries) {
      if (total >= budget) return;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) {
        const size = fs.statSync(full).size;
        if (size === 0 || size > 64 * MiB || total + size > budget) continue;
        out.push({ rel: path.relative('/usr', full), size });
        total += size;
      }
    }
  };
  walk('/usr');
  return out;
}

function mkfs(image: string, tree: string, size: number): void {
  fs.rmSync(image, { force: true });
  fs.closeSync(fs.openSync(image, 'w'));
  fs.truncateSync(image, size);
  // Same UUID, hash seed and clock for both versions: v2 differs from v1 by its files' bytes only.
  const uuid = '6b1f0c7e-2a51-4d7c-9d8e-b3c1f0a2e911';
  execFileSync('mkfs.ext4', ['-q', '-F', '-U', uuid, '-E', `hash_seed=${uuid},root_owner=0:0`, '-d', tree, image], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

export function buildImages(dir: string, size: number): Images {
  const tree = path.join(dir, 'tree');
  const files = systemFiles(Math.floor(size * FILL_SHARE));
  let dataBytes = 0;
  for (const f of files) {
    const to = path.join(tree, f.rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(path.join('/usr', f.rel), to);
    dataBytes += f.size;
  }
  const v1 = path.join(dir, 'v1.img');
  const v2 = path.join(dir, 'v2.img');
  mkfs(v1, tree, size);
  // Every tenth file gets new bytes of the same length: same layout, ~10% of the data changed.
  let changedFiles = 0;
  let changedBytes = 0;
  const every = Math.round(1 / CHANGED_SHARE);
  files.forEach((f, i) => {
    if (i % every !== every - 1) return;
    fs.writeFileSync(path.join(tree, f.rel), crypto.randomBytes(f.size));
    changedFiles++;
    changedBytes += f.size;
  });
  mkfs(v2, tree, size);
  fs.rmSync(tree, { recursive: true, force: true });
  return { v1, v2, size, files: files.length, changedFiles, changedBytes, dataBytes };
}

function sameFile(a: string, b: string): boolean {
  const hash = (f: string) => execFileSync('sha256sum', [f], { encoding: 'utf8' }).split(' ')[0];
  return hash(a) === hash(b);
}

// ---------------------------------------------------------------------------------------------
// The throttled link for the peers: a TCP proxy with a token bucket per direction, counting bytes

interface Link {
  port: number;
  bytes: number;
  close(): Promise<void>;
}

function throttle(from: net.Socket, to: net.Socket, bytesPerSecond: number | null, count: (n: number) => void): void {
  let nextFree = performance.now();
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    const flushed = to.write(chunk);
    if (bytesPerSecond === null) {
      if (!flushed) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      return;
    }
    const now = performance.now();
    nextFree = Math.max(nextFree, now) + (chunk.length / bytesPerSecond) * 1000;
    const wait = nextFree - now;
    if (wait > 2 || !flushed) {
      from.pause();
      const resume = () => setTimeout(() => from.resume(), Math.max(0, nextFree - performance.now()));
      if (flushed) resume();
      else to.once('drain', resume);
    }
  });
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
}

async function startLink(targetPort: number, bytesPerSecond: number | null): Promise<Link> {
  const sockets = new Set<net.Socket>();
  const link: Link = { port: 0, bytes: 0, close: async () => undefined };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    throttle(client, upstream, bytesPerSecond, (n) => (link.bytes += n));
    throttle(upstream, client, bytesPerSecond, (n) => (link.bytes += n));
    const forget = () => (sockets.delete(client), sockets.delete(upstream));
    client.on('close', forget);
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  link.port = (server.address() as net.AddressInfo).port;
  link.close = onCleanup('close the throttled link', async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return link;
}

/** A static file server for casync's store and index (the source side's web server). */
async function startFileServer(root: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = onCleanup('stop the casync file server', () => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, close };
}

// ---------------------------------------------------------------------------------------------
// Measured processes: GNU time's rusage (user + sys CPU, max RSS of the process and its reaped children)

interface Usage {
  cpuS: number;
  maxRss: number;
  wallS: number;
}

interface Timed {
  child: ChildProcess;
  done: Promise<Usage>;
}

function timed(args: string[], what: string, cwd?: string): Timed {
  const out = path.join(os.tmpdir(), `intercloud-bench-time-${crypto.randomBytes(4).toString('hex')}`);
  const started = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', out, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2000)));
  const done = new Promise<Usage>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      const lines = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n') : [];
      fs.rmSync(out, { force: true });
      const m = /^([\d.]+) ([\d.]+) (\d+)$/.exec(lines.at(-1) ?? '');
      if (!m) return reject(new Error(`${what}: no usage recorded (exit ${code ?? signal}): ${stderr.trim()}`));
      if (code !== 0 && !lines.some((l) => l.includes('signal'))) return reject(new Error(`${what} exited ${code}: ${stderr.trim()}`));
      resolve({ cpuS: Number(m[1]) + Number(m[2]), maxRss: Number(m[3]) * 1024, wallS: (performance.now() - started) / 1000 });
    });
  });
  return { child, done };
}

// ---------------------------------------------------------------------------------------------
// Rows

interface Measure {
  /** Wall time of the transfer itself (relay: the TRANSFER phase). */
  seconds: number;
  /** Relay only: job created -> BOOT done (the clone's server ACTIVE). */
  toActiveSeconds: number | null;
  linkBytes: number;
  source: Usage | null;
  target: Usage | null;
  /** The relay's broker plays both sides. */
  bothSides?: { cpuS: number; peakRss: number };
  verified: boolean;
  note?: string;
}

interface Row {
  name: string;
  first: Measure;
  repeat: Measure;
}

function fromClone(run: CloneRun, verified: boolean): Measure {
  const phase = (p: string) => run.job.phases.find((x) => x.phase === p);
  const transferMs = phase('TRANSFER')?.durationMs ?? run.cloneMs;
  const bootDone = phase('BOOT')?.finishedAt;
  return {
    seconds: transferMs / 1000,
    toActiveSeconds: bootDone ? (Date.parse(bootDone) - Date.parse(run.job.createdAt)) / 1000 : null,
    linkBytes: run.bytes,
    source: null,
    target: null,
    bothSides: run.stats ? { cpuS: run.stats.brokerCpuMs / 1000, peakRss: run.stats.peakRss } : undefined,
    verified,
  };
}

interface RelayResult {
  row: Row;
  agents: Row;
  open: { transferS: number; bytes: number };
  raw: { seconds: number; bytes: number };
}

async function relayRows(images: Images, link: number, dir: string, remaining: () => number): Promise<RelayResult> {
  const sandboxDir = path.join(dir, 'sandbox');
  const brokerDir = path.join(dir, 'broker');
  fs.mkdirSync(brokerDir, { recursive: true });
  const quotas = { instances: 20, cores: 40, ramMb: 100_000, floatingIps: 20 };
  const sandbox = await startSandbox({ dataDir: sandboxDir, clouds: [{ name: 'bench-src', images: [], quotas }, { name: 'bench-dst', images: [], quotas }] });
  const stopSandbox = onCleanup('stop the sandbox', () => sandbox.stop());
  const factory = labCloudApiFactory();
  const closeFactory = onCleanup('close the OpenStack client pool', () => factory.close());
  const [src, dst] = [sandbox.cloud('bench-src'), sandbox.cloud('bench-dst')];
  try {
    const databaseUrl = await createDatabase();
    const secret = crypto.randomBytes(32).toString('base64');
    // Clouds without a transferAgentUrl relay (TRANSFER_ENGINE=auto); the agents row names them.
    const broker = await spawnBroker(databaseUrl, brokerDir, newBrokerIdentity(), { AGENT_SHARED_SECRET: secret });
    const monitor = new BrokerMonitor(broker.pid);
    try {
      const [img1, img2] = [await src.control.seedImage({ name: 'bench-v1', file: images.v1 }), await src.control.seedImage({ name: 'bench-v2', file: images.v2 })];
      const fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'bench-src', 'bench-dst');
      const vm1 = (await fx.importNewVm('bench-v1', img1.id)).vmId;
      const vm2 = (await fx.importNewVm('bench-v2', img2.id)).vmId;
      // The relay verifies every byte itself: a DONE job's target image has the source snapshot's sha512 (IMPORT checks it).
      flushDisk();
      progress(`relay: first clone (v1) over the ${fmtLinkRate(link)} link`);
      const first = await cloneOnce('relay-first', broker.url, fx, vm1, src, dst, link, monitor, remaining());
      flushDisk();
      progress(`relay: repeat clone (v2; the target holds v1's clone)`);
      const repeat = await cloneOnce('relay-repeat', broker.url, fx, vm2, src, dst, link, monitor, remaining());
      flushDisk();
      progress('relay: unthrottled clone, then a raw HTTP pipe of the same image');
      const open = await cloneOnce('relay-open', broker.url, fx, vm1, src, dst, null, monitor, remaining());
      flushDisk();
      const raw = await transferInChildProcess(src, dst, img1.id, 'bench-raw-pipe');
      const openTransfer = open.job.phases.find((p) => p.phase === 'TRANSFER')?.durationMs ?? open.cloneMs;
      const agents = await agentsRows({ brokerUrl: broker.url, fx, vm1, vm2, src, dst, dstApi: sandboxApi(factory, dst), link, secret, dir, remaining });
      return {
        row: { name: 'relay (broker)', first: fromClone(first, true), repeat: fromClone(repeat, true) },
        agents,
        open: { transferS: openTransfer / 1000, bytes: open.bytes },
        raw: { seconds: raw.seconds, bytes: img1.size ?? images.size },
      };
    } finally {
      monitor.stop();
      await broker.stop();
    }
  } finally {
    await closeFactory();
    await stopSandbox();
  }
}

async function casyncRows(images: Images, link: number, dir: string): Promise<Row> {
  const sourceDir = path.join(dir, 'casync-source');
  const targetDir = path.join(dir, 'casync-target');
  fs.mkdirSync(path.join(sourceDir, 'store'), { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  const files = await startFileServer(sourceDir);
  const wire = await startLink(files.port, link);
  try {
    const run = async (version: 'v1' | 'v2', seed: string | null): Promise<Measure> => {
      const image = version === 'v1' ? images.v1 : images.v2;
      const out = path.join(targetDir, `${version}.img`);
      flushDisk();
      const started = performance.now();
      const make = await timed(['casync', 'make', `--store=${path.join(sourceDir, 'store')}`, path.join(sourceDir, `${version}.caibx`), image], `casync make ${version}`).done;
      const before = wire.bytes;
      const base = `http://127.0.0.1:${wire.port}`;
      const extract = await timed(
        ['casync', 'extract', `--store=${base}/store`, ...(seed ? [`--seed=${seed}`] : []), `${base}/${version}.caibx`, out],
        `casync extract ${version}`,
      ).done;
      const seconds = (performance.now() - started) / 1000;
      return { seconds, toActiveSeconds: null, linkBytes: wire.bytes - before, source: make, target: extract, verified: sameFile(image, out), note: `make ${make.wallS.toFixed(1)} s + extract ${extract.wallS.toFixed(1)} s` };
    };
    progress('casync: first transfer (v1, no seed)');
    const first = await run('v1', null);
    progress('casync: repeat transfer (v2, the target v1 as --seed)');
    const repeat = await run('v2', path.join(targetDir, 'v1.img'));
    return { name: 'casync', first, repeat };
  } finally {
    await wire.close();
    await files.close();
  }
}

async function rsyncRows(images: Images, link: number, dir: string): Promise<Row> {
  const targetDir = path.join(dir, 'rsync-target');
  fs.mkdirSync(targetDir, { recursive: true });
  const conf = path.join(dir, 'rsyncd.conf');
  const pidFile = path.join(dir, 'rsyncd.pid');
  // A daemon started as root would write as nobody: keep this process's user, who owns the target folder.
  fs.writeFileSync(conf, `pid file = ${pidFile}\nuse chroot = false\nuid = ${process.getuid!()}\ngid = ${process.getgid!()}\n[target]\n  path = ${targetDir}\n  read only = false\n`);
  const run = async (version: 'v1' | 'v2'): Promise<Measure> => {
    const image = version === 'v1' ? images.v1 : images.v2;
    const out = path.join(targetDir, 'disk.img');
    // The repeat pushes v2 onto the target's v1 (what the first transfer left there).
    if (version === 'v1') fs.rmSync(out, { force: true });
    const port = await freePort();
    fs.rmSync(pidFile, { force: true });
    const daemon = timed(['rsync', '--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'], 'rsync daemon');
    const stopDaemon = onCleanup('stop the rsync daemon', async () => {
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : null;
      if (pid) process.kill(pid, 'SIGTERM');
      else daemon.child.kill('SIGTERM');
      await daemon.done.catch(() => undefined);
    });
    try {
      await waitForPort(port);
      const wire = await startLink(port, link);
      try {
        flushDisk();
        const started = performance.now();
        // -I: compare content, not size and mtime; no -z: compression would make rsync CPU-bound at 1 Gbit/s.
        const client = await timed(['rsync', '-I', image, `rsync://127.0.0.1:${wire.port}/target/disk.img`], `rsync ${version}`).done;
        const seconds = (performance.now() - started) / 1000;
        const bytes = wire.bytes;
        await stopDaemon();
        const server = await daemon.done;
        return { seconds, toActiveSeconds: null, linkBytes: bytes, source: client, target: server, verified: sameFile(image, out) };
      } finally {
        await wire.close();
      }
    } finally {
      await stopDaemon();
    }
  };
  progress('rsync: first transfer (v1, nothing on the target)');
  const first = await run('v1');
  progress('rsync: repeat transfer (v2 onto the target v1)');
  const repeat = await run('v2');
  return { name: 'rsync (no -z)', first, repeat };
}

/** The agents' third clone: v2 through a new target agent that indexed v1's copy from the target Glance. */
let indexedRepeat: { linkBytes: number; seconds: number; toActiveSeconds: number | null } | null = null;

/** What the agents row needs from the relay's lab: the same clouds, broker, VMs and link. */
interface AgentsLab {
  brokerUrl: string;
  fx: CloneFixture;
  vm1: string;
  vm2: string;
  src: SandboxCloud;
  dst: SandboxCloud;
  /** The target cloud as its admin: the bench removes earlier copies there so the first clone has nothing to index. */
  dstApi: CloudApi;
  link: number;
  secret: string;
  dir: string;
  remaining: () => number;
}

/**
 * The chunked engine of issue 10: a clone through a source-side and a target-side transfer agent
 * (each its own process, `INTERCLOUD_ROLE=agent`), the Glance legs unthrottled (each agent is on
 * its cloud's LAN) and the agents' link throttled and counted by the same TCP proxy as the peers
 * (the target cloud's transferAgentUrl points at the proxy). First clone: the target agent's
 * store is empty and the relay's copies are removed from the target Glance first (else the target
 * side would index one of them); repeat: it holds v1's chunks. Then a third clone of v2 through
 * a new target agent with an empty store, v2's copy removed: the target side indexes v1's copy
 * from its Glance (issue 10's indexing), printed below the table.
 */
async function agentsRows(lab: AgentsLab): Promise<Row> {
  const [srcAgent, dstAgent] = await Promise.all([spawnAgent(lab.secret, path.join(lab.dir, 'agent-src')), spawnAgent(lab.secret, path.join(lab.dir, 'agent-dst'))]);
  const wire = await startLink(Number(new URL(dstAgent.url).port), lab.link);
  try {
    const setAgent = (cloudId: string, transferAgentUrl: string) =>
      gqlOk(lab.brokerUrl, lab.fx.tenant.token, `mutation($id: ID!, $input: UpdateCloudInput!) { updateCloud(id: $id, input: $input) { id } }`, { id: cloudId, input: { transferAgentUrl } });
    await setAgent(lab.fx.sourceCloudId, srcAgent.url);
    await setAgent(lab.fx.targetCloudId, `http://127.0.0.1:${wire.port}`);
    const run = async (label: string, vmId: string): Promise<Measure> => {
      flushDisk();
      const monitors = [new BrokerMonitor(srcAgent.pid), new BrokerMonitor(dstAgent.pid)];
      const before = wire.bytes;
      monitors.forEach((m) => m.enter('run'));
      const dummy = new BrokerMonitor(process.pid);
      try {
        const clone = await cloneOnce(label, lab.brokerUrl, lab.fx, vmId, lab.src, lab.dst, null, dummy, lab.remaining());
        monitors.forEach((m) => m.enter('after'));
        const [s, t] = monitors.map((m) => m.get('run')!);
        const m = fromClone(clone, true);
        return { ...m, bothSides: undefined, linkBytes: wire.bytes - before, source: { cpuS: s.brokerCpuMs / 1000, maxRss: s.peakRss, wallS: s.wallMs / 1000 }, target: { cpuS: t.brokerCpuMs / 1000, maxRss: t.peakRss, wallS: t.wallMs / 1000 }, note: 'agents only (broker CPU not counted)' };
      } finally {
        monitors.forEach((m) => m.stop());
        dummy.stop();
      }
    };
    const removeCopies = async () => {
      for (const image of await lab.dstApi.listImages({ properties: { intercloud_role: 'target' } })) await lab.dstApi.deleteImage(image.id);
    };
    await removeCopies();
    progress('agents: first clone (v1; the target agent\'s store is empty, no copy in the target Glance)');
    const first = await run('agents-first', lab.vm1);
    const v1Copies = new Set((await lab.dstApi.listImages({ properties: { intercloud_role: 'target' } })).map((i) => i.id));
    progress('agents: repeat clone (v2; the target agent holds v1\'s chunks)');
    const repeat = await run('agents-repeat', lab.vm2);
    // A new target agent, empty store; v2's copy removed so the newest base is v1's copy.
    for (const image of await lab.dstApi.listImages({ properties: { intercloud_role: 'target' } })) if (!v1Copies.has(image.id)) await lab.dstApi.deleteImage(image.id);
    const fresh = await spawnAgent(lab.secret, path.join(lab.dir, 'agent-dst-fresh'));
    const freshWire = await startLink(Number(new URL(fresh.url).port), lab.link);
    try {
      await setAgent(lab.fx.targetCloudId, `http://127.0.0.1:${freshWire.port}`);
      progress('agents: repeat clone (v2) through a new target agent with an empty store; it indexes v1\'s copy from the target Glance');
      flushDisk();
      const before = freshWire.bytes;
      const clone = await cloneOnce('agents-indexed', lab.brokerUrl, lab.fx, lab.vm2, lab.src, lab.dst, null, new BrokerMonitor(process.pid), lab.remaining());
      const m = fromClone(clone, true);
      indexedRepeat = { linkBytes: freshWire.bytes - before, seconds: m.seconds, toActiveSeconds: m.toActiveSeconds };
    } finally {
      await freshWire.close();
      await fresh.stop();
    }
    return { name: 'agents (chunked)', first, repeat };
  } finally {
    await wire.close();
    await Promise.all([srcAgent.stop(), dstAgent.stop()]);
  }
}

/** A transfer agent process (`INTERCLOUD_ROLE=agent node dist/src/main.js`). */
async function spawnAgent(secret: string, cacheDir: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [MAIN_JS], {
    env: { ...process.env, INTERCLOUD_ROLE: 'agent', PORT: '0', HOST: '127.0.0.1', AGENT_SHARED_SECRET: secret, AGENT_CACHE_DIR: cacheDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = onCleanup(`stop the transfer agent (pid ${child.pid})`, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`a transfer agent did not start within 60 s: ${output}`)), 60_000);
    const read = (c: Buffer) => {
      output = (output + c.toString('utf8')).slice(-4000);
      const m = /^Intercloud transfer agent listening on (\S+)$/m.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    void exited.then(() => (clearTimeout(timer), reject(new Error(`a transfer agent exited before listening: ${output}`))));
  });
  return { url, pid: child.pid!, stop };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the rsync daemon did not listen on ${port} within 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtLinkRate = (link: number): string => `${((link * 8) / 1e9).toFixed(2)} Gbit/s`;
const mib = (n: number | undefined): string => (n === undefined ? '-' : `${Math.round(n / MiB)} MiB`);
const perGiB = (cpuS: number | undefined, bytes: number): string => (cpuS === undefined ? '-' : (cpuS / (bytes / GiB)).toFixed(2));

function report(images: Images, link: number, rows: Row[], relay: RelayResult, agents: { missing: string } | { row: Row }): void {
  const wireS = images.size / link;
  log('');
  log(`images: raw ext4 ${fmtBytes(images.size)}, ${images.files} files from /usr (${fmtBytes(images.dataBytes)}); v2 rewrites ${images.changedFiles} files (${fmtBytes(images.changedBytes)})`);
  log(`link: ${fmtLinkRate(link)} (wire time of the full image ${wireS.toFixed(2)} s); ${os.cpus().length} cores, node ${process.version}`);
  log('');
  const lines: string[][] = [];
  for (const row of rows) {
    for (const [which, m] of [['first', row.first], ['repeat', row.repeat]] as const) {
      lines.push([
        `${row.name} ${which}`,
        m.seconds.toFixed(2),
        (m.seconds / wireS).toFixed(2),
        m.toActiveSeconds === null ? '-' : `${m.toActiveSeconds.toFixed(2)} (${(m.toActiveSeconds / wireS).toFixed(2)})`,
        (m.linkBytes / images.size).toFixed(3),
        m.bothSides ? `${perGiB(m.bothSides.cpuS, images.size)} (both)` : perGiB(m.source?.cpuS, images.size),
        m.bothSides ? '(same process)' : perGiB(m.target?.cpuS, images.size),
        m.bothSides ? `${mib(m.bothSides.peakRss)} (both)` : mib(m.source?.maxRss),
        m.bothSides ? '(same process)' : mib(m.target?.maxRss),
        m.verified ? 'yes' : 'NO',
        m.note ?? '',
      ]);
    }
  }
  log(
    table(
      ['row', 'transfer s', '/ wire', 'to ACTIVE s (/ wire)', 'link bytes / image', 'CPU s/GiB source', 'CPU s/GiB target', 'peak RSS source', 'peak RSS target', 'verified', 'note'],
      lines,
      true,
    ),
  );
  if ('missing' in agents) log(`  agents row: not measured: ${agents.missing}`);
  if (indexedRepeat) {
    const r = indexedRepeat;
    log(
      `  agents repeat through a new target agent with an empty store (v1's copy indexed from the target Glance): link bytes / image ${(r.linkBytes / images.size).toFixed(3)}, transfer ${r.seconds.toFixed(2)} s, to ACTIVE ${r.toActiveSeconds?.toFixed(2) ?? '-'} s`,
    );
  }
  log('');
  const relayRate = relay.open.bytes / relay.open.transferS;
  const rawRate = relay.raw.bytes / relay.raw.seconds;
  const ratio = relayRate / rawRate;
  const relayFirst = rows[0].first;
  const relayRepeat = rows[0].repeat;
  const goals: string[][] = [
    ['relay (link unthrottled) / raw HTTP pipe', `>= ${RELAY_GOAL}`, `${ratio.toFixed(2)} (${(relayRate / MiB).toFixed(0)} vs ${(rawRate / MiB).toFixed(0)} MiB/s)`, ratio >= RELAY_GOAL ? 'PASS' : 'FAIL'],
  ];
  const agentGoals: [string, string, (a: Row) => number][] = [
    ['agents first: link bytes / image', '<= 0.5', (a) => a.first.linkBytes / images.size],
    ['agents first: time to ACTIVE / relay', '<= 0.6', (a) => (a.first.toActiveSeconds ?? a.first.seconds) / (relayFirst.toActiveSeconds ?? relayFirst.seconds)],
    ['agents repeat: link bytes / image', '<= 0.1', (a) => a.repeat.linkBytes / images.size],
    ['agents repeat: time to ACTIVE / relay', '<= 0.2', (a) => (a.repeat.toActiveSeconds ?? a.repeat.seconds) / (relayRepeat.toActiveSeconds ?? relayRepeat.seconds)],
  ];
  for (const [name, goal, value] of agentGoals) {
    if ('missing' in agents) goals.push([name, goal, '-', 'not measured']);
    else {
      const v = value(agents.row);
      goals.push([name, goal, v.toFixed(3), v <= Number(goal.slice(3)) ? 'PASS' : 'FAIL']);
    }
  }
  log(table(['goal', 'target', 'measured', 'verdict'], goals, true));
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { size: { type: 'string' }, link: { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    log(USAGE);
    return 0;
  }
  const size = parseSize(values.size ?? '512MiB');
  const link = parseLink(values.link ?? '1gbit');
  if (link === null) throw new Error('--link must be a rate: the peers are compared over a throttled link');
  const timeoutS = Number(values.timeout ?? 3600);
  const missing = missingTools();
  if (missing.length > 0) {
    console.error(`bench:transfer needs ${missing.map((t) => t.bin).join(', ')}: apt-get install -y --no-install-recommends ${[...new Set(missing.map((t) => t.pkg))].join(' ')}`);
    return 2;
  }
  const started = Date.now();
  const deadline = started + timeoutS * 1000;
  const watchdog = setTimeout(() => {
    console.error(`bench:transfer: time limit of ${timeoutS} s reached`);
    void cleanUpAll().then(() => process.exit(1));
  }, timeoutS * 1000);
  const rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-transfer-bench-'));
  onCleanup(`remove ${rootDir}`, async () => fs.rmSync(rootDir, { recursive: true, force: true }));
  try {
    const free = fs.statfsSync(rootDir);
    // Two images, the sandbox's copies (seeds, snapshots, clones), casync's store and extracts, rsync's copy.
    const needed = 12 * size;
    if (free.bavail * free.bsize < needed) throw new Error(`${rootDir} has ${fmtBytes(free.bavail * free.bsize)} free; this run needs about ${fmtBytes(needed)}`);
    progress(`building the images (${fmtBytes(size)} raw ext4, v1 and v2)`);
    const images = buildImages(rootDir, size);
    const remaining = () => Math.max(10_000, deadline - Date.now());
    const relay = await relayRows(images, link, path.join(rootDir, 'relay'), remaining);
    const casync = await casyncRows(images, link, rootDir);
    const rsync = await rsyncRows(images, link, rootDir);
    const rows = [relay.row, relay.agents, casync, rsync];
    report(images, link, rows, relay, { row: relay.agents });
    log('');
    log(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return 0;
  } finally {
    clearTimeout(watchdog);
    await cleanUpAll();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    async (err: unknown) => {
      console.error(`bench:transfer failed: ${err instanceof Error ? err.message : String(err)}`);
      await cleanUpAll();
      process.exit(1);
    },
  );
}
