/**
 * Plain Glance image transfers over HTTP (undici, no broker): the yardstick the benchmarks
 * compare against. Shared by sandbox/bench/image-throughput.bench.ts and
 * test/bench/clone.bench.ts.
 *
 * The endpoints are plain data (a `SandboxCloud` fits), so a transfer can also run in a child
 * process (`transferInChildProcess`): its client side then has its own process beside the
 * sandbox's, as a broker has.
 */
import { fork } from 'node:child_process';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import type { PasswordCredentials } from '../control/control.types';

/** What a transfer needs to know of a cloud (a `SandboxCloud` has it). */
export interface ImageEndpoint {
  authUrl: string;
  urls: { image: string };
  credentials: { password: PasswordCredentials };
}

/** A project-scoped Keystone token for the cloud's password credentials. */
export async function token(cloud: ImageEndpoint): Promise<string> {
  const pw = cloud.credentials.password;
  const res = await request(`${cloud.authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: pw.username, domain: { name: pw.userDomainName }, password: pw.password } } },
        scope: { project: { name: pw.projectName, domain: { name: pw.projectDomainName } } },
      },
    }),
  });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`keystone answered ${res.statusCode}`);
  return res.headers['x-subject-token'] as string;
}

export interface TransferResult {
  /** Seconds from the GET until the PUT's answer (image creation and tokens excluded). */
  seconds: number;
  targetImageId: string;
}

/** Streams image `id` of `from` into a new (queued) image of `to`: one GET piped into one PUT. */
export async function transferImage(from: ImageEndpoint, to: ImageEndpoint, id: string, name = 'bench-copy'): Promise<TransferResult> {
  const [tf, tt] = await Promise.all([token(from), token(to)]);
  const created = await request(`${to.urls.image}/v2/images`, {
    method: 'POST',
    headers: { 'x-auth-token': tt, 'content-type': 'application/json' },
    body: JSON.stringify({ name, disk_format: 'raw', container_format: 'bare' }),
  });
  const target = ((await created.body.json()) as { id: string }).id;
  const t0 = performance.now();
  const download = await request(`${from.urls.image}/v2/images/${id}/file`, { headers: { 'x-auth-token': tf } });
  if (download.statusCode !== 200) throw new Error(`download answered ${download.statusCode}`);
  const upload = await request(`${to.urls.image}/v2/images/${target}/file`, {
    method: 'PUT',
    headers: { 'x-auth-token': tt, 'content-type': 'application/octet-stream' },
    body: download.body,
  });
  await upload.body.dump();
  if (upload.statusCode !== 204) throw new Error(`upload answered ${upload.statusCode}`);
  return { seconds: (performance.now() - t0) / 1000, targetImageId: target };
}

/** Same as `transfer`, seconds only. */
export async function transfer(from: ImageEndpoint, to: ImageEndpoint, id: string): Promise<number> {
  return (await transferImage(from, to, id)).seconds;
}

/** Downloads image `id` into nothing; returns seconds taken. */
export async function downloadOnly(cloud: ImageEndpoint, id: string): Promise<number> {
  const t = await token(cloud);
  const t0 = performance.now();
  const res = await request(`${cloud.urls.image}/v2/images/${id}/file`, { headers: { 'x-auth-token': t } });
  await pipeline(res.body, new Writable({ write: (_c, _e, done) => done() }));
  return (performance.now() - t0) / 1000;
}

function endpointOf(cloud: ImageEndpoint): ImageEndpoint {
  return { authUrl: cloud.authUrl, urls: { image: cloud.urls.image }, credentials: { password: { ...cloud.credentials.password } } };
}

const CHILD_MARK = '--sandbox-bench-image-transfer';

/**
 * `transferImage` run in a child Node process (this module, forked): its client side then has
 * its own process beside the sandbox's, as a broker has. Also reports the child's CPU time.
 */
export function transferInChildProcess(from: ImageEndpoint, to: ImageEndpoint, id: string, name = 'bench-copy'): Promise<TransferResult & { cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [CHILD_MARK], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: (TransferResult & { cpuMs: number }) | undefined;
    child.once('message', (m: { ok: true; result: TransferResult & { cpuMs: number } } | { ok: false; error: string }) => {
      if (m.ok) result = m.result;
      else reject(new Error(`raw transfer process failed: ${m.error}`));
    });
    child.once('error', reject);
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`raw transfer process exited with ${code}`))));
    child.send({ from: endpointOf(from), to: endpointOf(to), id, name });
  });
}

if (require.main === module && process.argv.includes(CHILD_MARK) && process.send) {
  // The parent gone (stopped, interrupted): no transfer for nobody.
  process.once('disconnect', () => process.exit(1));
  process.once('message', (job: { from: ImageEndpoint; to: ImageEndpoint; id: string; name: string }) => {
    const cpu0 = process.cpuUsage();
    transferImage(job.from, job.to, job.id, job.name).then(
      (result) => {
        const cpu = process.cpuUsage(cpu0);
        process.send!({ ok: true, result: { ...result, cpuMs: (cpu.user + cpu.system) / 1000 } }, () => process.exit(0));
      },
      (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? err.message : String(err) }, () => process.exit(1)),
    );
  });
}
