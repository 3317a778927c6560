/**
 * A lab for clone tests with real broker processes: two sandbox clouds, one test database, a
 * tenant with both clouds registered and a VM type, and brokers started (and killed, paused,
 * resumed) on demand, all sharing one secret key. Needs dist/ (npm run build).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { OperationName, Sandbox, SandboxCloud } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi, Server } from '../../src/ports/cloud-api.port';
import { BrokerProcess, spawnBroker } from './broker-process';
import { CLONE_JOB_FIELDS, CloneFixture, setUpClone, waitForJobState } from './clone-fixture';
import { createTestDatabase, TestDatabase } from './database';
import { gqlOk } from './graphql';
import { bootSandboxServer, labCloudApiFactory, sandboxApi, startSandboxClouds } from './sandbox';
import { LAB_CLOUD_ENV } from './lab';

export type Job = Record<string, any>;

export interface CloneLab {
  sandbox: Sandbox;
  srcCloud: SandboxCloud;
  dstCloud: SandboxCloud;
  /** The test's own admin clients of the two clouds. */
  src: CloudApi;
  dst: CloudApi;
  db: TestDatabase;
  pg: Client;
  fx: CloneFixture;
  adminToken: string;
  /** The broker the lab was set up through. */
  firstBroker: BrokerProcess;
  /** Another broker process on the lab's database; `env` adds or overrides settings. */
  startBroker(env?: Record<string, string>): Promise<BrokerProcess>;
  /** A fresh ACTIVE server in the source cloud imported into the VM type through `url`. */
  importVm(url: string): Promise<string>;
  startClone(url: string, vmId: string): Promise<string>;
  getJob(url: string, id: string): Promise<Job>;
  waitForEnd(url: string, id: string, timeoutMs?: number): Promise<Job>;
  jobImages(api: CloudApi, jobId: string): Promise<Awaited<ReturnType<CloudApi['listImages']>>>;
  jobServers(api: CloudApi, jobId: string): Promise<Server[]>;
  calls(cloud: SandboxCloud, op: OperationName): Promise<number>;
  /** The job's stored events, in seq order. */
  events(jobId: string): Promise<{ seq: number; kind: string; phase: string; message: string | null }[]>;
  dispose(): Promise<void>;
}

export const BROKER_DEFAULTS: Record<string, string> = {
  ...LAB_CLOUD_ENV,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  SHUTDOWN_GRACE_MS: '3000',
  CLONE_LEASE_SECONDS: '2',
  // One job at a time per broker: two jobs running at once are then on two brokers.
  CLONE_CONCURRENCY: '1',
};

export async function startCloneLab(name: string, brokerEnv: Record<string, string> = {}): Promise<CloneLab> {
  const adminToken = `icb_${name}_${crypto.randomBytes(24).toString('base64url')}`;
  // Shared by every broker process: each must open the cloud credentials the others stored.
  const secretKey = crypto.randomBytes(32).toString('base64');
  const processes: BrokerProcess[] = [];
  const dataDirs: string[] = [];
  const sandbox = await startSandboxClouds(`${name}-src`, `${name}-dst`);
  for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
  const srcCloud = sandbox.cloud(`${name}-src`);
  const dstCloud = sandbox.cloud(`${name}-dst`);
  const factory = labCloudApiFactory();
  const src = sandboxApi(factory, srcCloud);
  const dst = sandboxApi(factory, dstCloud);
  const [{ id: baseImageId }] = await src.listImages({ name: 'cirros-sandbox', status: 'active' });
  const db = await createTestDatabase();
  const pg = new Client({ connectionString: db.url });
  await pg.connect();

  const startBroker = async (env: Record<string, string> = {}): Promise<BrokerProcess> => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `intercloud-${name}-`));
    dataDirs.push(dir);
    const p = await spawnBroker({
      ...BROKER_DEFAULTS,
      DATABASE_URL: db.url,
      INTERCLOUD_ADMIN_TOKEN: adminToken,
      INTERCLOUD_SECRET_KEY: secretKey,
      INTERCLOUD_DATA_DIR: dir,
      ...brokerEnv,
      ...env,
    });
    processes.push(p);
    return p;
  };

  const first = await startBroker();
  const fx = await setUpClone(first.url, adminToken, sandbox, factory, srcCloud.name, dstCloud.name);
  const token = () => fx.tenant.token;

  return {
    sandbox,
    srcCloud,
    dstCloud,
    src,
    dst,
    db,
    pg,
    fx,
    adminToken,
    firstBroker: first,
    startBroker,
    async importVm(url) {
      const server = await bootSandboxServer(srcCloud, `sip-${crypto.randomBytes(3).toString('hex')}`, baseImageId, factory);
      const { importVm: vm } = await gqlOk(url, token(), `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, {
        input: { cloudId: fx.sourceCloudId, serverId: server.id, vmTypeId: fx.vmTypeId },
      });
      return vm.id;
    },
    async startClone(url, vmId) {
      const { cloneVm } = await gqlOk(url, token(), `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`, { input: { vmId, targetCloudId: fx.targetCloudId } });
      return cloneVm.id;
    },
    async getJob(url, id) {
      return (await gqlOk(url, token(), `query($id: ID!) { cloneJob(id: $id) { ${CLONE_JOB_FIELDS} } }`, { id })).cloneJob;
    },
    waitForEnd: (url, id, timeoutMs = 120_000) => waitForJobState(url, token(), id, ['DONE', 'FAILED', 'CANCELLED'], timeoutMs),
    jobImages: (api, jobId) => api.listImages({ properties: { intercloud_job: jobId } }),
    jobServers: async (api, jobId) => (await api.listServers()).filter((s) => s.metadata.intercloud_job === jobId),
    calls: async (cloud, op) => (await cloud.control.calls())[op] ?? 0,
    async events(jobId) {
      const { rows } = await pg.query<{ seq: number; payload: { kind: string; phase: string; message: string | null } }>(
        `SELECT seq, payload FROM events WHERE stream = $1 ORDER BY seq`,
        [`clone-job:${jobId}`],
      );
      return rows.map((r) => ({ seq: Number(r.seq), ...r.payload }));
    },
    async dispose() {
      for (const p of processes) {
        p.child.kill('SIGCONT');
        await p.dispose();
      }
      await pg.end();
      await db.drop();
      await factory.close();
      await sandbox.stop();
      for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
