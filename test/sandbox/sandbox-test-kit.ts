/**
 * Helpers for the sandbox's own tests: start clouds in a temp folder, talk to them over real
 * HTTP (undici) as a client would, and wait for asynchronous state without timing asserts.
 * Other suites (the CloudApi contract) use startTestSandbox too: keep its signature stable.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { startSandbox, type CloudOptions, type Sandbox, type SandboxCloud } from '../../sandbox';

/** Short latencies: the lifecycles still go through every state, just quickly. */
export const FAST = { apiMs: 0, bootMs: 90, deleteMs: 30, snapshotMs: 60, floatingIpMs: 30 };

export async function startTestSandbox(clouds: CloudOptions[] = [{ name: 'test-cloud' }]): Promise<Sandbox> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-test-'));
  const sandbox = await startSandbox({
    dataDir,
    clouds: clouds.map((c) => ({ latency: FAST, images: [{ name: 'cirros-sandbox', sizeBytes: 1024 * 1024 }], ...c })),
  });
  const stop = sandbox.stop.bind(sandbox);
  return {
    ...sandbox,
    cloud: sandbox.cloud.bind(sandbox),
    stop: async () => {
      await stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Response bodies are checked field by field in the tests; typing every OpenStack shape here
 * would only restate the assertions.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): Json;
  header(name: string): string | undefined;
}

export interface CallOptions {
  token?: string | null;
  headers?: Record<string, string>;
  json?: unknown;
  body?: Buffer | Readable | string;
}

export async function http(method: string, url: string, options: CallOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.token) headers['x-auth-token'] = options.token;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  const res = await request(url, { method: method as 'GET', headers, body });
  const buf = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    headers: res.headers,
    body: buf,
    json: () => JSON.parse(buf.toString('utf8')),
    header: (name) => {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
  };
}

/** Password-authenticates against the cloud's Keystone and returns the token. */
export async function login(cloud: SandboxCloud): Promise<string> {
  const pw = cloud.credentials.password;
  const res = await http('POST', `${cloud.authUrl}/auth/tokens`, {
    json: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: pw.username, domain: { name: pw.userDomainName }, password: pw.password } } },
        scope: { project: { name: pw.projectName, domain: { name: pw.projectDomainName } } },
      },
    },
  });
  if (res.status !== 201) throw new Error(`login failed: ${res.status} ${res.body.toString()}`);
  return res.header('x-subject-token')!;
}

/** Polls until `probe` returns a value (not undefined), or fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Boots a server on the private network and waits for ACTIVE; returns its id. */
export async function bootServer(cloud: SandboxCloud, token: string, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const images = await http('GET', `${cloud.urls.image}/v2/images?name=cirros-sandbox`, { token });
  const imageRef = images.json().images[0].id as string;
  const res = await http('POST', `${cloud.urls.compute}/servers`, {
    token,
    headers: { 'openstack-api-version': 'compute 2.79' },
    json: { server: { name, imageRef, flavorRef: '1', networks: [{ uuid: cloud.info().networks.private.id }], ...extra } },
  });
  if (res.status !== 202) throw new Error(`boot failed: ${res.status} ${res.body.toString()}`);
  const id = res.json().server.id as string;
  await waitServerStatus(cloud, token, id, 'ACTIVE');
  return id;
}

export async function waitServerStatus(cloud: SandboxCloud, token: string, id: string, status: string): Promise<Json> {
  return waitFor(`server ${id} ${status}`, async () => {
    const server = (await http('GET', `${cloud.urls.compute}/servers/${id}`, { token })).json().server;
    return server.status === status && server['OS-EXT-STS:task_state'] === null ? server : undefined;
  });
}

export async function waitImageStatus(cloud: SandboxCloud, token: string, id: string, status: string): Promise<Json> {
  return waitFor(`image ${id} ${status}`, async () => {
    const image = (await http('GET', `${cloud.urls.image}/v2/images/${id}`, { token })).json();
    return image.status === status ? image : undefined;
  });
}
