/**
 * A clone into a cloud whose Glance takes only raw, from a qcow2 image: TRANSFER converts it with
 * qemu-img on the target side, the target's Nova (which checks an image's bytes against its
 * disk_format) boots it, and the job's events say so. A spool without room fails clearly and
 * undoes. Needs qemu-img (Debian: qemu-utils).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { download, makeDisk } from '../support/disk-images';

const MiB = 1024 * 1024;

interface ConversionLab {
  sandbox: Sandbox;
  factory: OpenStackCloudApiFactory;
  db: TestDatabase;
  pg: Client;
  broker: TestBroker;
  fx: CloneFixture;
  dst: CloudApi;
  spoolDir: string;
  workDir: string;
  raw: Buffer;
  qcow2ImageId: string;
  dispose(): Promise<void>;
}

/** Source cloud with a qcow2 image; target cloud whose Glance (and registration) takes raw only. */
async function startConversionLab(name: string, env: Record<string, string> = {}): Promise<ConversionLab> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `intercloud-${name}-`));
  const spoolDir = path.join(workDir, 'spool');
  const sandbox = await startSandboxClouds(`${name}-src`, { name: `${name}-dst`, diskFormats: ['raw'] });
  const factory = labCloudApiFactory();
  const db = await createTestDatabase();
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const broker = await startTestBroker(db.url, { CLONE_STEP_ATTEMPTS: '2', TRANSFER_SPOOL_DIR: spoolDir, ...env });
  const fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, `${name}-src`, `${name}-dst`);
  await gqlOk(broker.url, fx.tenant.token, `mutation($id: ID!) { updateCloud(id: $id, input: { diskFormats: ["raw"] }) { id } }`, { id: fx.targetCloudId });
  const { raw, qcow2File } = makeDisk(workDir);
  const seeded = await sandbox.cloud(`${name}-src`).control.seedImage({ name: 'sip-qcow2', file: qcow2File, diskFormat: 'qcow2' });
  return {
    sandbox,
    factory,
    db,
    pg,
    broker,
    fx,
    dst: sandboxApi(factory, sandbox.cloud(`${name}-dst`)),
    spoolDir,
    workDir,
    raw,
    qcow2ImageId: seeded.id,
    async dispose() {
      await broker.stop();
      await pg.end();
      await db.drop();
      await factory.close();
      await sandbox.stop();
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}

async function cloneInto(lab: ConversionLab): Promise<Record<string, any>> {
  const { vmId } = await lab.fx.importNewVm(undefined, lab.qcow2ImageId);
  const { cloneVm } = await gqlOk(lab.broker.url, lab.fx.tenant.token, `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`, {
    input: { vmId, targetCloudId: lab.fx.targetCloudId },
  });
  return waitForJobState(lab.broker.url, lab.fx.tenant.token, cloneVm.id, ['DONE', 'FAILED'], 120_000);
}

async function messages(lab: ConversionLab, jobId: string): Promise<string[]> {
  const { rows } = await lab.pg.query<{ payload: { message: string | null } }>(`SELECT payload FROM events WHERE stream = $1 ORDER BY seq`, [`clone-job:${jobId}`]);
  return rows.map((r) => r.payload.message).filter((m): m is string => m !== null);
}

const spoolEntries = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

describe('disk format conversion: qcow2 into a raw-only cloud', () => {
  let lab: ConversionLab;
  beforeAll(async () => {
    lab = await startConversionLab('conv');
  });
  afterAll(async () => {
    await lab?.dispose();
  });

  it('the matchmaker lets the raw-only cloud in, saying the image is converted there', async () => {
    const { vmId } = await lab.fx.importNewVm(undefined, lab.qcow2ImageId);
    const { matchmake } = await gqlOk(lab.broker.url, lab.fx.tenant.token, `query($vmId: ID!) { matchmake(vmId: $vmId) { cloud { id } eligible reasons } }`, { vmId });
    const target = matchmake.find((c: { cloud: { id: string } }) => c.cloud.id === lab.fx.targetCloudId);
    expect(target).toMatchObject({ eligible: true, reasons: expect.arrayContaining(['converted from qcow2 to raw on the target side']) });
  });

  it('converts qcow2 -> raw on the target side; the raw image holds the same disk and boots', async () => {
    const job = await cloneInto(lab);
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');

    const [image, ...more] = await lab.dst.listImages({ properties: { intercloud_job: job.id } });
    expect(more).toEqual([]);
    expect(image).toMatchObject({ status: 'active', diskFormat: 'raw' });
    // The raw image is the qcow2's virtual disk, byte for byte (Glance's own sha512 agrees).
    const bytes = await download(lab.dst, image.id);
    expect(bytes.equals(lab.raw)).toBe(true);
    expect(image.hashValue).toBe(crypto.createHash('sha512').update(lab.raw).digest('hex'));
    // The target's Nova checked the bytes against disk_format raw and booted it.
    const server = await lab.dst.getServer(job.resultVm.serverId);
    expect(server).toMatchObject({ status: 'ACTIVE', imageId: image.id });

    const said = await messages(lab, job.id);
    expect(said).toEqual(expect.arrayContaining([expect.stringMatching(/^converting qcow2 -> raw on the target side \(spool .* in .*\)$/), expect.stringMatching(/^converted qcow2 -> raw in .* s: uploading 16 MiB as raw$/)]));
    expect(spoolEntries(lab.spoolDir)).toEqual([]);
  });
});

describe('disk format conversion: a spool without room', () => {
  let lab: ConversionLab;
  beforeAll(async () => {
    // No filesystem has a pebibyte to spare: the free-space check must refuse before writing.
    lab = await startConversionLab('convfull', { TRANSFER_SPOOL_RESERVE_BYTES: String(1024 ** 5) });
  });
  afterAll(async () => {
    await lab?.dispose();
  });

  it('fails with SPOOL_SPACE naming the folder, and undoes', async () => {
    const job = await cloneInto(lab);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('SPOOL_SPACE');
    expect(job.error.message).toMatch(/^not enough free disk space in .*spool\/job-[0-9a-f-]+ to spool the qcow2 image for its conversion to raw: needs .* plus a reserve of 1048576 GiB/);
    expect(job.error.message).toContain('TRANSFER_SPOOL_RESERVE_BYTES');
    expect(await lab.dst.listImages({ properties: { intercloud_job: job.id } })).toEqual([]);
    expect(spoolEntries(lab.spoolDir)).toEqual([]);
  });
});
