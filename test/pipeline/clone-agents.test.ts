/**
 * A clone whose two clouds name transfer agents (started as processes): TRANSFER goes through
 * the agents as a chunk stream, IMPORT compares the target Glance's sha512 with the source's,
 * PROGRESS events carry the link bytes and savings, and a repeat clone of the same VM sends
 * (almost) nothing over the link. A transfer agent URL is checked with the endpoint policy.
 * Needs dist/ (npx tsc -p tsconfig.json).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SPAN_BYTES, chunkLengths } from '../../src/transfer/chunk-codec';
import { AgentProcess, spawnAgent } from '../support/agent-process';
import { CloneLab, startCloneLab } from '../support/clone-lab';
import { gql } from '../support/graphql';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

const SECRET = randomBytes(32).toString('base64');
let lab: CloneLab;
let work: string;
let agents: AgentProcess[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'clone-agents-'));
  lab = await startCloneLab('agt', { AGENT_SHARED_SECRET: SECRET });
  agents = await Promise.all([spawnAgent(SECRET, path.join(work, 'src')), spawnAgent(SECRET, path.join(work, 'dst'))]);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.crash()));
  await lab?.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

async function setAgent(cloudId: string, transferAgentUrl: string) {
  return gql(lab.firstBroker.url, lab.fx.tenant.token, `mutation($id: ID!, $input: UpdateCloudInput!) { updateCloud(id: $id, input: $input) { id transferAgentUrl } }`, {
    id: cloudId,
    input: { transferAgentUrl },
  });
}

async function transferProgress(jobId: string) {
  const { rows } = await lab.pg.query<{ payload: Record<string, any> }>(`SELECT payload FROM events WHERE stream = $1 AND payload->>'kind' = 'PROGRESS' ORDER BY seq`, [`clone-job:${jobId}`]);
  return rows.map((r) => r.payload);
}

describe('clone through transfer agents', () => {
  it('refuses a transfer agent URL the endpoint policy forbids, naming the field', async () => {
    const res = await setAgent(lab.fx.targetCloudId, 'http://169.254.169.254:4100');
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.transferAgentUrl' });
    expect(res.errors?.[0].message).toMatch(/link-local/);
  });

  it('clones through both agents, verified by the target Glance, and a repeat sends only what changed', async () => {
    for (const [cloudId, agent] of [
      [lab.fx.sourceCloudId, agents[0]],
      [lab.fx.targetCloudId, agents[1]],
    ] as const) {
      const res = await setAgent(cloudId, agent.url);
      expect(res.errors).toBeUndefined();
      expect(res.data?.updateCloud.transferAgentUrl).toBe(agent.url);
    }
    const url = lab.firstBroker.url;
    const vmId = await lab.importVm(url);
    const first = await lab.waitForEnd(url, await lab.startClone(url, vmId));
    expect(first.error).toBeNull();
    expect(first.state).toBe('DONE');
    const progress = await transferProgress(first.id);
    const last = progress[progress.length - 1];
    expect(last.transfer).toMatchObject({ linkBytes: expect.any(Number), zeroBytes: expect.any(Number), dedupBytes: expect.any(Number) });
    expect(last.bytesTransferred).toBe(first.bytesTotal);
    const stored = agents[1].storedChunks();
    expect(stored).toBeGreaterThan(0);
    // The source agent read the image and the target agent stored it: the broker sent nothing itself.
    expect(agents[0].storedChunks()).toBe(0);
    // The same VM again: its snapshot holds the same chunks, which the target's store has.
    const second = await lab.waitForEnd(url, await lab.startClone(url, vmId));
    expect(second.state).toBe('DONE');
    const again = await transferProgress(second.id);
    const repeat = again[again.length - 1].transfer;
    expect(repeat.linkBytes).toBeLessThanOrEqual(last.transfer.linkBytes / 10);
    expect(repeat.dedupBytes).toBeGreaterThan(0);
    expect(agents[1].storedChunks()).toBeLessThanOrEqual(stored + 1);

    // A new target agent with an empty store: the first clone's image, already in the target
    // Glance (a DONE clone of this tenant and VM type), is indexed into it before the source
    // sends, so the third clone again sends almost nothing.
    const fresh = await spawnAgent(SECRET, path.join(work, 'dst-fresh'));
    agents.push(agents[1]);
    agents[1] = fresh;
    expect((await setAgent(lab.fx.targetCloudId, fresh.url)).errors).toBeUndefined();
    const third = await lab.waitForEnd(url, await lab.startClone(url, vmId));
    expect(third.state).toBe('DONE');
    const thirdProgress = await transferProgress(third.id);
    const indexed = thirdProgress[thirdProgress.length - 1].transfer;
    expect(fresh.storedChunks()).toBeGreaterThan(0);
    expect(indexed.linkBytes).toBeLessThanOrEqual(last.transfer.linkBytes / 10);
    expect(indexed.dedupBytes).toBeGreaterThan(0);
  });

  it('resumes after kill -9 of the broker mid-transfer, resending only the chunks the target agent lacks', async () => {
    // A VM whose disk is 12 spans of incompressible chunks and 4 zero spans, read slowly so the kill lands mid-transfer.
    const disk = Buffer.concat([randomBytes(6 * SPAN_BYTES), Buffer.alloc(4 * SPAN_BYTES), randomBytes(6 * SPAN_BYTES)]);
    let ours = 0;
    for (let at = 0; at < disk.length; at += SPAN_BYTES) {
      const span = disk.subarray(at, at + SPAN_BYTES);
      if (span.some((b) => b !== 0)) ours += chunkLengths(span).length;
    }
    const base = await lab.src.createImage({ name: 'big-disk', diskFormat: 'raw', containerFormat: 'bare', properties: {} });
    await lab.src.uploadImage(base.id, Readable.from([disk]), disk.length);
    const { vmId } = await lab.fx.importNewVm(undefined, base.id);
    await lab.srcCloud.control.setBandwidth({ downloadBytesPerSecond: 4 * 1024 * 1024 });
    const before = agents[1].storedChunks();
    const bytesBefore = agents[1].storedBytes();
    const jobId = await lab.startClone(lab.firstBroker.url, vmId);
    await waitFor(() => agents[1].storedChunks() >= before + 3, 'three chunks stored before the kill', 120_000, 20);
    await lab.firstBroker.crash();
    const storedAtCrash = agents[1].storedChunks() - before;
    const bytesAtCrash = agents[1].storedBytes() - bytesBefore;
    expect(storedAtCrash).toBeLessThan(ours);
    await lab.srcCloud.control.setBandwidth({ downloadBytesPerSecond: null });
    const next = await lab.startBroker();
    const job = await lab.waitForEnd(next.url, jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');
    // The snapshot is the server's disk: our chunks (and what the sandbox wrote at boot).
    const storedInAll = agents[1].storedChunks() - before;
    const bytesInAll = agents[1].storedBytes() - bytesBefore;
    expect(storedInAll).toBeGreaterThanOrEqual(ours);
    // The resumed attempt's own counts: the chunks stored before the crash were not sent again.
    const progress = await transferProgress(jobId);
    const resumed = progress[progress.length - 1].transfer;
    // Chunks vary in size (content-defined): count the frames' bytes. A frame is at most its chunk plus a tag byte.
    expect(resumed.dedupBytes).toBeGreaterThanOrEqual(bytesAtCrash - storedAtCrash);
    expect(resumed.linkBytes).toBeLessThanOrEqual(bytesInAll - bytesAtCrash);
  });
});
