/**
 * The chunked transfer through two transfer agents started as processes, between two sandbox
 * clouds: the result's sha512 equals the source's; a repeat sends only the changed chunks;
 * another tenant's clone of the same bytes sends them again; kill -9 of either agent mid-transfer
 * and the rerun resends only what the target's store lacks. Bytes on the link are counted by
 * the transfer itself (frame bytes sent) and cross-checked with the target agent's store.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import type { Sandbox } from '../../sandbox';
import type { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import type { CloudApi } from '../../src/ports/cloud-api.port';
import { ChunkCodecPool, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, SPAN_BYTES, chunkHash, chunkLengths, packBatch } from '../../src/transfer/chunk-codec';
import { ChunkStore } from '../../src/transfer/chunk-store';
import { IndexResult, LocalChunkTarget, TransferStats } from '../../src/transfer/chunk-transfer';
import { signJobToken } from '../../src/transfer/job-token';
import { runChunkedTransfer } from '../../src/transfer/transfer-engine';
import { AgentProcess, spawnAgent } from '../support/agent-process';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

const SECRET = randomBytes(32).toString('base64');
const TENANT_A = randomUUID();
const TENANT_B = randomUUID();

/**
 * 16 spans and a partial 17th: 4 random, 6 zero, 4 text (compressible, every chunk distinct),
 * 2 random, and a partial random tail: 10 spans of distinct non-zero chunks and the tail's one
 * (or two: where content-defined chunks end depends on the bytes, see distinctChunks).
 */
function makeImage(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 4; i++) parts.push(randomBytes(SPAN_BYTES));
  for (let i = 0; i < 6; i++) parts.push(Buffer.alloc(SPAN_BYTES));
  for (let i = 0; i < 4; i++) {
    const text = Buffer.alloc(SPAN_BYTES);
    for (let at = 0; at < SPAN_BYTES; at += 64) text.write(`span ${i} line ${at} of /etc/some.conf\n`.padEnd(64, ' '), at);
    parts.push(text);
  }
  for (let i = 0; i < 2; i++) parts.push(randomBytes(SPAN_BYTES));
  parts.push(randomBytes(1000));
  return Buffer.concat(parts);
}

/** The image's distinct non-zero chunks (name -> size), cut as the engine cuts: span by span, content-defined within each. */
function distinctChunks(bytes: Buffer): Map<string, number> {
  const out = new Map<string, number>();
  for (let start = 0; start < bytes.length; start += SPAN_BYTES) {
    const span = bytes.subarray(start, Math.min(bytes.length, start + SPAN_BYTES));
    let at = 0;
    for (const length of chunkLengths(span)) {
      const chunk = span.subarray(at, at + length);
      at += length;
      if (chunk.some((b) => b !== 0)) out.set(chunkHash(chunk), length);
    }
  }
  return out;
}
let DISTINCT: number;

const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

let sandbox: Sandbox;
let factory: OpenStackCloudApiFactory;
let src: CloudApi;
let dst: CloudApi;
let pool: ChunkCodecPool;
let work: string;
let sourceAgent: AgentProcess;
let targetAgent: AgentProcess;
let image: Buffer;
let sourceImageId: string;

async function uploadSource(bytes: Buffer, name: string): Promise<string> {
  const img = await src.createImage({ name, diskFormat: 'raw', containerFormat: 'bare', properties: {} });
  await src.uploadImage(img.id, Readable.from([bytes]), bytes.length);
  return img.id;
}

async function transfer(o: { sourceId: string; tenantId: string; targetId?: string; baseId?: string; onProgress?: (s: TransferStats) => void }) {
  const source = (await src.getImage(o.sourceId))!;
  const base = o.baseId ? { ...(await dst.imageDataAccess(o.baseId)), size: (await dst.getImage(o.baseId))!.size! } : null;
  let indexed: IndexResult | Error | null = null;
  const targetId = o.targetId ?? (await dst.createImage({ name: `copy-${o.sourceId}`, diskFormat: 'raw', containerFormat: 'bare', properties: {} })).id;
  const stats = await runChunkedTransfer({
    jobId: randomUUID(),
    tenantId: o.tenantId,
    source: { cloudId: 'alpha', glance: await src.imageDataAccess(o.sourceId), size: source.size!, agentUrl: sourceAgent.url },
    target: { cloudId: 'beta', glance: await dst.imageDataAccess(targetId), agentUrl: targetAgent.url, base },
    secret: SECRET,
    local: { pool, store: null },
    onProgress: o.onProgress,
    onIndexed: (r) => (indexed = r),
  });
  return { stats, targetId, sourceHash: source.hashValue, indexed: indexed as IndexResult | Error | null };
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'agents-test-'));
  sandbox = await startSandboxClouds('alpha', 'beta');
  factory = labCloudApiFactory();
  src = sandboxApi(factory, sandbox.cloud('alpha'));
  dst = sandboxApi(factory, sandbox.cloud('beta'));
  pool = new ChunkCodecPool(1);
  [sourceAgent, targetAgent] = await Promise.all([spawnAgent(SECRET, path.join(work, 'source-cache')), spawnAgent(SECRET, path.join(work, 'target-cache'))]);
  image = makeImage();
  DISTINCT = distinctChunks(image).size;
  sourceImageId = await uploadSource(image, 'golden');
});

afterAll(async () => {
  await Promise.all([sourceAgent?.crash(), targetAgent?.crash()]);
  await pool?.close();
  await factory?.close();
  await sandbox?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('chunked transfer through two agent processes', () => {
  it('rebuilds the image in the target Glance with the source sha512, sending no zeros and compressing the rest', async () => {
    const progress: TransferStats[] = [];
    const { stats, targetId, sourceHash } = await transfer({ sourceId: sourceImageId, tenantId: TENANT_A, onProgress: (s) => progress.push(s) });
    const target = (await dst.getImage(targetId))!;
    expect(target.status).toBe('active');
    expect(sourceHash).toBe(sha512(image));
    expect(target.hashValue).toBe(sourceHash);
    expect(stats).toMatchObject({ imageBytes: image.length, processedBytes: image.length, zeroBytes: 6 * SPAN_BYTES, chunksSent: DISTINCT, dedupBytes: 0 });
    // Text compresses: fewer link bytes than the non-zero image bytes.
    expect(stats.linkBytes).toBeLessThan(stats.sentRawBytes);
    expect(targetAgent.storedChunks()).toBe(DISTINCT);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1].processedBytes).toBe(image.length);
    // The target agent's /metrics counted the same link bytes for the job.
    const metrics = await (await request(`${sourceAgent.url}/metrics`)).body.text();
    expect(metrics).toMatch(/intercloud_agent_link_bytes_total\{job="[^"]+",role="source"\} \d+/);
  });

  it('sends only the changed chunks of a second version', async () => {
    // Changed: 192 KiB of new bytes inside a random span, and one line of text.
    const v2 = Buffer.from(image);
    randomBytes(192 * 1024).copy(v2, SPAN_BYTES + 320 * 1024);
    v2.write('a changed configuration line', 11 * SPAN_BYTES + 100);
    const v2Id = await uploadSource(v2, 'golden-v2');
    const { stats, targetId } = await transfer({ sourceId: v2Id, tenantId: TENANT_A });
    // Exactly v2's chunks that v1 lacks crossed the link: the few around each change.
    const v1Chunks = distinctChunks(image);
    const changed = [...distinctChunks(v2)].filter(([hash]) => !v1Chunks.has(hash));
    expect(changed.length).toBeGreaterThanOrEqual(2);
    expect(changed.length).toBeLessThanOrEqual(8);
    expect(stats.chunksSent).toBe(changed.length);
    expect(stats.linkBytes).toBeLessThanOrEqual(changed.reduce((sum, [, size]) => sum + size + 1, 0));
    expect(stats.linkBytes).toBeLessThanOrEqual(8 * (MAX_CHUNK_BYTES + 1));
    expect(stats.dedupBytes).toBe(image.length - stats.zeroBytes - stats.sentRawBytes);
    expect((await dst.getImage(targetId))!.hashValue).toBe(sha512(v2));
  });

  it('sends everything again for another tenant: no chunk is shared across tenants', async () => {
    const { stats, targetId } = await transfer({ sourceId: sourceImageId, tenantId: TENANT_B });
    expect(stats.chunksSent).toBe(DISTINCT);
    expect(stats.dedupBytes).toBe(0);
    expect((await dst.getImage(targetId))!.hashValue).toBe(sha512(image));
  });

  it('indexes an image already in the target Glance into an empty store, so a repeat sends only what changed', async () => {
    // v1 sits in the target Glance (an earlier clone's copy); this tenant's store holds nothing.
    const baseId = (await dst.createImage({ name: 'earlier-clone', diskFormat: 'raw', containerFormat: 'bare', properties: {} })).id;
    await dst.uploadImage(baseId, Readable.from([image]), image.length);
    const v2 = Buffer.from(image);
    randomBytes(100_000).copy(v2, 2 * SPAN_BYTES + 777_777);
    const v2Id = await uploadSource(v2, 'golden-v2-indexed');
    const tenant = randomUUID();
    const { stats, targetId, indexed } = await transfer({ sourceId: v2Id, tenantId: tenant, baseId });
    if (!indexed || indexed instanceof Error) throw new Error(`not indexed: ${String(indexed)}`);
    expect(indexed).toMatchObject({ readBytes: image.length, storedChunks: DISTINCT, truncated: false });
    const v1Chunks = distinctChunks(image);
    const changed = [...distinctChunks(v2)].filter(([hash]) => !v1Chunks.has(hash));
    // The chunks around a 100,000-byte change: at most those it can hold (each at least the
    // minimum size) plus one at each edge; how many exactly depends on the random bytes.
    expect(changed.length).toBeLessThanOrEqual(Math.ceil(100_000 / MIN_CHUNK_BYTES) + 2);
    expect(stats.chunksSent).toBe(changed.length);
    expect((await dst.getImage(targetId))!.hashValue).toBe(sha512(v2));
    // Another tenant gains nothing from it: its transfer sends every chunk.
    const other = await transfer({ sourceId: v2Id, tenantId: randomUUID() });
    expect(other.stats.chunksSent).toBe(distinctChunks(v2).size);

    // The index is bounded: with a 1 MiB store it stops at half of it.
    const small = await ChunkStore.open(path.join(work, 'small-cache'), 1024 * 1024);
    const bounded = await new LocalChunkTarget(small, { tenantId: tenant, cloudId: 'beta' }, pool).index({ ...(await dst.imageDataAccess(baseId)), size: image.length });
    expect(bounded.truncated).toBe(true);
    expect(bounded.storedBytes).toBeLessThanOrEqual(512 * 1024);
    expect(small.size).toBeLessThanOrEqual(512 * 1024);

    // The agent indexes only an image the job token names.
    const token = signJobToken(SECRET, { jobId: 'j', tenantId: tenant, cloudId: 'beta', role: 'target', urls: [(await dst.imageDataAccess(targetId)).url], exp: Math.floor(Date.now() / 1000) + 60 });
    const refused = await request(`${targetAgent.url}/v1/target/index`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ glance: { ...(await dst.imageDataAccess(baseId)), size: image.length } }),
    });
    expect(refused.statusCode).toBe(403);
    expect(await refused.body.text()).toMatch(/glance.url is not an address this job's token allows/);
  });

  it('refuses calls without a valid token, with another role, or outside the token scope', async () => {
    const put = (token: string) =>
      request(`${targetAgent.url}/v1/target/missing`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ hashes: [] }) });
    const claims = { jobId: 'j', tenantId: TENANT_A, cloudId: 'beta', urls: ['http://127.0.0.1:1/v2/images/x/file'], exp: Math.floor(Date.now() / 1000) + 60 };
    expect((await put(signJobToken('another key of at least thirty-two chars', { ...claims, role: 'target' }))).statusCode).toBe(401);
    expect((await put(signJobToken(SECRET, { ...claims, role: 'source' }))).statusCode).toBe(401);
    expect((await put(signJobToken(SECRET, { ...claims, role: 'target', exp: 1 }))).statusCode).toBe(401);
    expect((await put(signJobToken(SECRET, { ...claims, role: 'target' }))).statusCode).toBe(200);
    const commit = await request(`${targetAgent.url}/v1/target/commit`, {
      method: 'POST',
      headers: { authorization: `Bearer ${signJobToken(SECRET, { ...claims, role: 'target' })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ size: 0, manifest: [], glance: { url: 'http://169.254.169.254/latest/meta-data', token: 't' } }),
    });
    expect(commit.statusCode).toBe(403);
    expect(await commit.body.text()).toMatch(/glance.url is not an address this job's token allows/);
    // A manifest that does not describe the image is refused before anything is read or uploaded.
    const badCommit = (manifest: unknown) =>
      request(`${targetAgent.url}/v1/target/commit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${signJobToken(SECRET, { ...claims, role: 'target' })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ size: 5, manifest, glance: { url: claims.urls[0], token: 't' } }),
      });
    for (const [manifest, why] of [
      [[{ hash: null, size: 10 }], /add up to 10 bytes, the image has 5/],
      [[{ hash: null, size: 5 + MAX_CHUNK_BYTES }], /size must be 1 to/],
      [[{ hash: 'x', size: 5 }], /hash must be a sha256/],
      [['0'.repeat(64)], /must be \{ hash, size \}/],
    ] as const) {
      const res = await badCommit(manifest);
      expect(res.statusCode).toBe(400);
      expect(await res.body.text()).toMatch(why);
    }
  });

  it('refuses a batch with one corrupted chunk whole, a malformed batch, and an oversized "have?" question', async () => {
    const claims = { jobId: 'j', tenantId: randomUUID(), cloudId: 'beta', urls: [], role: 'target' as const, exp: Math.floor(Date.now() / 1000) + 60 };
    const auth = { authorization: `Bearer ${signJobToken(SECRET, claims)}` };
    const post = (body: Buffer, headers: Record<string, string> = auth) =>
      request(`${targetAgent.url}/v1/target/chunks`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body });
    const good = await pool.encode(randomBytes(64 * 1024));
    const bad = await pool.encode(Buffer.alloc(64 * 1024, 0x61));
    if (good.zero || bad.zero) throw new Error('not zero');
    const corrupted = Buffer.from(bad.frame);
    corrupted[corrupted.length - 1] ^= 0xff;
    const before = targetAgent.storedChunks();
    const refused = await post(packBatch([good, { hash: bad.hash, frame: corrupted }]));
    expect(refused.statusCode).toBe(422);
    expect(await refused.body.text()).toMatch(/refused/);
    expect(targetAgent.storedChunks()).toBe(before);
    const cut = await post(packBatch([good]).subarray(0, 100));
    expect(cut.statusCode).toBe(400);
    expect(await cut.body.text()).toMatch(/cut short/);
    expect((await post(packBatch([good]), {})).statusCode).toBe(401);
    const tooMany = await request(`${targetAgent.url}/v1/target/missing`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ hashes: Array.from({ length: 4097 }, () => good.hash) }),
    });
    expect(tooMany.statusCode).toBe(400);
    expect(await tooMany.body.text()).toMatch(/at most 4096/);
    // The same batch, intact, is stored whole, and the scope then has both chunks.
    expect((await post(packBatch([good, bad]))).statusCode).toBe(204);
    expect(targetAgent.storedChunks()).toBe(before + 2);
  });

  it('runs with the broker playing a side itself: both sides in-process, or only the source', async () => {
    const store = await ChunkStore.open(path.join(work, 'broker-cache'), 1024 ** 3);
    const source = (await src.getImage(sourceImageId))!;
    for (const targetAgentUrl of [null, targetAgent.url]) {
      const tenant = randomUUID();
      const targetId = (await dst.createImage({ name: 'in-process', diskFormat: 'raw', containerFormat: 'bare', properties: {} })).id;
      const stats = await runChunkedTransfer({
        jobId: randomUUID(),
        tenantId: tenant,
        source: { cloudId: 'alpha', glance: await src.imageDataAccess(sourceImageId), size: source.size!, agentUrl: null },
        target: { cloudId: 'beta', glance: await dst.imageDataAccess(targetId), agentUrl: targetAgentUrl },
        secret: SECRET,
        local: { pool, store },
      });
      expect(stats.chunksSent).toBe(DISTINCT);
      expect((await dst.getImage(targetId))!.hashValue).toBe(sha512(image));
    }
    // The broker's own store held the in-process target side's chunks.
    expect(store.size).toBeGreaterThan(0);
  });

  for (const side of ['target', 'source'] as const) {
    it(`resumes after kill -9 of the ${side} agent mid-transfer, resending only chunks the target store lacks`, async () => {
      const tenant = randomUUID();
      const fresh = makeImage();
      const freshId = await uploadSource(fresh, `resume-${side}`);
      const targetId = (await dst.createImage({ name: `resume-${side}`, diskFormat: 'raw', containerFormat: 'bare', properties: {} })).id;
      // Slow source reads (~8 MiB/s) so that the kill lands mid-transfer.
      await sandbox.cloud('alpha').control.setBandwidth({ downloadBytesPerSecond: 8 * 1024 * 1024 });
      const before = targetAgent.storedChunks();
      const first = transfer({ sourceId: freshId, tenantId: tenant, targetId });
      first.catch(() => undefined);
      await waitFor(() => targetAgent.storedChunks() >= before + 3, 'three chunks stored before the kill', 120_000, 20);
      const victim = side === 'target' ? targetAgent : sourceAgent;
      await victim.crash();
      await expect(first).rejects.toThrow();
      await sandbox.cloud('alpha').control.setBandwidth({ downloadBytesPerSecond: null });
      const restarted = await spawnAgent(SECRET, victim.cacheDir);
      if (side === 'target') targetAgent = restarted;
      else sourceAgent = restarted;
      // What the target's store holds on disk now (a killed target's too): the resume point.
      const stored = targetAgent.storedChunks() - before;
      expect(stored).toBeGreaterThanOrEqual(3);
      // A new random image: its content-defined chunks are its own count.
      const freshDistinct = distinctChunks(fresh).size;
      expect(stored).toBeLessThan(freshDistinct);
      const { stats } = await transfer({ sourceId: freshId, tenantId: tenant, targetId });
      // Only what the store lacked crossed the link again.
      expect(stats.chunksSent).toBe(freshDistinct - stored);
      expect((await dst.getImage(targetId))!.hashValue).toBe(sha512(fresh));
    });
  }
});
