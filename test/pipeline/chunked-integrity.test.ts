/**
 * Integrity on the chunked path, through two transfer agents started as processes:
 *
 * - bit rot in the source snapshot while TRANSFER runs: the source agent reads (and chunks, with
 *   valid per-chunk hashes) bytes that are no longer the image Glance hashed, so the target
 *   Glance's os_hash_value of the rebuilt image differs from the source's; the job must fail with
 *   CHECKSUM_MISMATCH and undo (no target image, no target server, no snapshot left);
 * - a chunk damaged on the target agent's disk between two clones: the store answers "I have it"
 *   (it does not read every chunk back on a "missing?"), so the rebuild reads the damaged frame;
 *   its sha256 is checked as it is decoded, the chunk is evicted, the attempt fails, and the retry
 *   resends just that chunk: the clone ends DONE with the source's sha512 and the chunk on disk is
 *   whole again.
 * Needs dist/ (npx tsc -p tsconfig.json).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { MAX_CHUNK_BYTES, chunkLengths } from '../../src/transfer/chunk-codec';
import { AgentProcess, spawnAgent } from '../support/agent-process';
import { CloneLab, startCloneLab } from '../support/clone-lab';
import { waitForJobPhase } from '../support/clone-fixture';
import { gql } from '../support/graphql';

jest.setTimeout(300_000);

const SECRET = randomBytes(32).toString('base64');
let lab: CloneLab;
let work: string;
let agents: AgentProcess[] = [];

const CHUNK_BYTES = 64 * 1024;
/** 2 MiB of pseudo-random data, 1 MiB of zeros, 1 MiB more of data: every data chunk distinct. */
const disk = Buffer.concat([randomBytes(32 * CHUNK_BYTES), Buffer.alloc(16 * CHUNK_BYTES), randomBytes(16 * CHUNK_BYTES)]);
/**
 * The name of the i-th content-defined chunk of the disk, cut as the codec cuts it (a cut depends
 * only on the bytes before it within a span, so the snapshot's runtime delta further on moves none
 * of the first chunks).
 */
const chunkName = (i: number) => {
  const lengths = chunkLengths(disk.subarray(0, 2 * 1024 * 1024));
  const start = lengths.slice(0, i).reduce((a, b) => a + b, 0);
  return createHash('sha256').update(disk.subarray(start, start + lengths[i])).digest('hex');
};

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'chunked-integrity-'));
  lab = await startCloneLab('cint', { AGENT_SHARED_SECRET: SECRET, CLONE_STEP_ATTEMPTS: '3' });
  agents = await Promise.all([spawnAgent(SECRET, path.join(work, 'src')), spawnAgent(SECRET, path.join(work, 'dst'))]);
  for (const [cloudId, agent] of [
    [lab.fx.sourceCloudId, agents[0]],
    [lab.fx.targetCloudId, agents[1]],
  ] as const) {
    const res = await gql(lab.firstBroker.url, lab.fx.tenant.token, `mutation($id: ID!, $input: UpdateCloudInput!) { updateCloud(id: $id, input: $input) { id } }`, {
      id: cloudId,
      input: { transferAgentUrl: agent.url },
    });
    expect(res.errors).toBeUndefined();
  }
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.crash()));
  await lab?.dispose();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A source VM booted from an image holding `disk` (its snapshot is `disk` plus the server's runtime delta). */
async function vmOnDisk(): Promise<string> {
  const base = await lab.src.createImage({ name: `disk-${randomBytes(3).toString('hex')}`, diskFormat: 'raw', containerFormat: 'bare', properties: {} });
  await lab.src.uploadImage(base.id, Readable.from([disk]), disk.length);
  return (await lab.fx.importNewVm(undefined, base.id)).vmId;
}

function findFile(dir: string, name: string): string | null {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    } else if (entry.name === name) return p;
  }
  return null;
}

describe('chunked transfer integrity', () => {
  it('fails with CHECKSUM_MISMATCH when the target Glance hashes the rebuilt image differently from the source, and undoes', async () => {
    const vmId = await vmOnDisk();
    // Hold the source agent's first read, rot a byte range of the stored snapshot, then let it read.
    await lab.srcCloud.control.injectFault({ operation: 'glance.image.download', mode: 'hang', hangMs: 60_000 });
    const jobId = await lab.startClone(lab.firstBroker.url, vmId);
    await waitForJobPhase(lab.firstBroker.url, lab.fx.tenant.token, jobId, 'TRANSFER');
    const [snapshot] = await lab.jobImages(lab.src, jobId);
    const file = findFile(lab.srcCloud.config.dataDir, snapshot.id);
    expect(file).not.toBeNull();
    const fd = fs.openSync(file!, 'r+');
    fs.writeSync(fd, Buffer.from('bit rot in the source store'), 0, 27, 3 * CHUNK_BYTES + 100);
    fs.closeSync(fd);
    await lab.srcCloud.control.clearFaults();

    const job = await lab.waitForEnd(lab.firstBroker.url, jobId);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('CHECKSUM_MISMATCH');
    expect(job.error.message).toMatch(/computed a sha512 .* for the rebuilt image that differs from the source image's os_hash_value/);
    // The chunks did travel (through the agents: the broker's own store stays empty)...
    expect(agents[1].storedChunks()).toBeGreaterThan(0);
    // ...but nothing the job made is left in either cloud.
    expect(await lab.jobImages(lab.dst, jobId)).toEqual([]);
    expect(await lab.jobServers(lab.dst, jobId)).toEqual([]);
    expect(await lab.jobImages(lab.src, jobId)).toEqual([]);
  });

  it('catches a chunk damaged in the target agent store when it is read back, evicts it and resends it', async () => {
    const vmId = await vmOnDisk();
    const first = await lab.waitForEnd(lab.firstBroker.url, await lab.startClone(lab.firstBroker.url, vmId));
    expect(first.error).toBeNull();
    expect(first.state).toBe('DONE');

    // Damage one data chunk of the disk where the target agent keeps it (same length, other bytes).
    const victim = chunkName(2);
    const file = findFile(agents[1].cacheDir, victim);
    expect(file).not.toBeNull();
    const whole = fs.readFileSync(file!);
    const damaged = Buffer.from(whole);
    for (let i = Math.floor(damaged.length / 2); i < damaged.length; i++) damaged[i] ^= 0x5a;
    fs.writeFileSync(file!, damaged);

    // The same VM again: every chunk is "there", the rebuild meets the damaged one.
    const second = await lab.waitForEnd(lab.firstBroker.url, await lab.startClone(lab.firstBroker.url, vmId));
    expect(second.error).toBeNull();
    expect(second.state).toBe('DONE');
    const [image] = await lab.jobImages(lab.dst, second.id);
    const [imageOfFirst] = await lab.dst.listImages({ properties: { intercloud_job: first.id } });
    // The server's disk did not change between the clones: both targets hold the same image.
    expect(image.hashValue).toBe(imageOfFirst.hashValue);
    expect(image.hashValue).toMatch(/^[0-9a-f]{128}$/);
    // The damaged frame left the store and came back whole: re-read from the first clone's image
    // in the target cloud (the target side indexes it before the source sends), else over the link.
    expect(fs.readFileSync(file!).equals(whole)).toBe(true);
    // The failed attempt said why, and the step's retry repaired it.
    const said = (await lab.events(second.id)).map((e) => e.message ?? '');
    expect(said).toEqual(expect.arrayContaining([expect.stringMatching(/^attempt failed \(transfer agent .* answered 503: a chunk in the agent's store no longer matched its sha256 and was removed: chunk [0-9a-f]{16}\.\.\. refused: .*\); retrying in \d+ ms$/)]));
    const { rows } = await lab.pg.query<{ payload: Record<string, any> }>(`SELECT payload FROM events WHERE stream = $1 AND payload->>'kind' = 'PROGRESS' ORDER BY seq`, [
      `clone-job:${second.id}`,
    ]);
    // At most the damaged chunk crossed the link again.
    const transfer = rows[rows.length - 1].payload.transfer;
    expect(transfer.linkBytes).toBeLessThan(2 * MAX_CHUNK_BYTES);
  });
});
