/**
 * The CloudApi contract: what the clone pipeline relies on from any cloud, as one ordered scenario
 * (auth, boot, snapshot, download, copy, floating IP, clean-up). It runs against the sandbox and
 * against real OpenStack, so it uses nothing but the CloudApi port: no sandbox control API here.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ConflictError } from '../../src/domain/errors';
import type { CloudApi, Image, Server } from '../../src/ports/cloud-api.port';

export interface ContractFixtures {
  /** An active, bootable image. */
  imageId: string;
  flavorId: string;
  /** A tenant network with a router to `externalNetworkId`. */
  networkId: string;
  externalNetworkId: string;
  availabilityZone?: string;
  /**
   * Where a server's snapshot has real bytes, when that is not where the main server boots (real clouds:
   * the fake compute driver snapshots nothing, the QEMU zone does but cannot bind ports).
   */
  snapshotServer?: { availabilityZone?: string; networks: string[] | 'none' | 'auto' };
}

export interface ContractSetup {
  /** Authenticated with a password. */
  api: CloudApi;
  /** The same cloud, authenticated with an application credential. */
  applicationCredentialApi: CloudApi;
  /** Where the image copy goes (default: `api`). */
  targetApi?: CloudApi;
  fixtures: ContractFixtures;
  /** How long to wait for a boot, a snapshot or a floating IP (default 120 s), and how often to look (default 1 s). */
  patienceMs?: number;
  pollMs?: number;
  teardown(): Promise<void>;
}

/** Polls `probe` until it returns a value; fails naming what it waited for. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, patienceMs: number, pollMs: number): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function sha512Of(stream: Readable): Promise<{ sha512: string; md5: string; bytes: number }> {
  const sha512 = createHash('sha512');
  const md5 = createHash('md5');
  let bytes = 0;
  for await (const chunk of stream) {
    sha512.update(chunk as Buffer);
    md5.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha512: sha512.digest('hex'), md5: md5.digest('hex'), bytes };
}

export function describeCloudApiContract(name: string, setup: () => Promise<ContractSetup>): void {
  describe(`CloudApi contract: ${name}`, () => {
    let env: ContractSetup;
    let api: CloudApi;
    let target: CloudApi;
    let fx: ContractFixtures;
    let patience: number;
    let poll: number;
    const run = randomUUID().slice(0, 8);
    const job = { intercloud_job: `contract-${run}` };
    // Regex metacharacters on purpose: Nova's name filter is a regular expression.
    const serverName = `ct-${run}.(main)+`;

    let server: Server | undefined;
    let snapshotServerId: string | undefined;
    let snapshot: Image | undefined;
    let copy: Image | undefined;
    let floatingIpId: string | undefined;
    const cleanup: Array<() => Promise<void>> = [];

    const waitActive = async (id: string): Promise<Server> =>
      eventually(
        `server ${id} ACTIVE`,
        async () => {
          const s = await api.getServer(id);
          if (s?.status === 'ERROR') throw new Error(`server ${id} went to ERROR`);
          return s?.status === 'ACTIVE' && s.taskState === null ? s : undefined;
        },
        patience,
        poll,
      );

    const waitImageActive = async (cloud: CloudApi, id: string): Promise<Image> =>
      eventually(
        `image ${id} active`,
        async () => {
          const image = await cloud.getImage(id);
          if (image?.status === 'killed') throw new Error(`image ${id} was killed`);
          return image?.status === 'active' ? image : undefined;
        },
        patience,
        poll,
      );

    beforeAll(async () => {
      env = await setup();
      api = env.api;
      target = env.targetApi ?? env.api;
      fx = env.fixtures;
      patience = env.patienceMs ?? 120_000;
      poll = env.pollMs ?? 1_000;
    }, 300_000);

    afterAll(async () => {
      // Best effort, newest first, so a failed test leaves nothing behind in a real cloud.
      for (const undo of cleanup.reverse()) await undo().catch(() => undefined);
      await env?.teardown();
    }, 300_000);

    it('authenticates with a password and with an application credential', async () => {
      expect(api.connection.credentials.kind).toBe('PASSWORD');
      expect(env.applicationCredentialApi.connection.credentials.kind).toBe('APPLICATION_CREDENTIAL');
      for (const cloud of [api, env.applicationCredentialApi]) {
        const flavors = await cloud.listFlavors();
        expect(flavors.map((f) => f.id)).toContain(fx.flavorId);
        expect(await cloud.getImage(fx.imageId)).toMatchObject({ id: fx.imageId, status: 'active' });
      }
    });

    it('lists flavors, limits and networks', async () => {
      const flavor = (await api.listFlavors()).find((f) => f.id === fx.flavorId);
      expect(flavor).toMatchObject({ id: fx.flavorId, name: expect.any(String) });
      expect(flavor!.vcpus).toBeGreaterThan(0);
      expect(flavor!.ramMb).toBeGreaterThan(0);

      const limits = await api.getLimits();
      for (const value of Object.values(limits)) expect(Number.isInteger(value)).toBe(true);
      expect(limits.maxInstances === -1 || limits.maxInstances >= limits.usedInstances).toBe(true);

      const networks = await api.listNetworks();
      expect(networks).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: fx.networkId, external: false }),
          expect.objectContaining({ id: fx.externalNetworkId, external: true }),
        ]),
      );
    });

    it('boots a server to ACTIVE; shows it, finds it by name, keeps its metadata', async () => {
      const created = await api.createServer({
        name: serverName,
        imageId: fx.imageId,
        flavorId: fx.flavorId,
        networks: [fx.networkId],
        availabilityZone: fx.availabilityZone ?? null,
        metadata: { ...job, intercloud_role: 'contract' },
      });
      cleanup.push(() => api.deleteServer(created.id));
      expect(created).toMatchObject({ name: serverName, imageId: fx.imageId, flavorId: fx.flavorId });

      server = await waitActive(created.id);
      expect(server).toMatchObject({ id: created.id, name: serverName, imageId: fx.imageId, flavorId: fx.flavorId, taskState: null });
      expect(server.metadata).toMatchObject({ ...job, intercloud_role: 'contract' });
      if (fx.availabilityZone) expect(server.availabilityZone).toBe(fx.availabilityZone);
      expect(server.addresses.some((a) => a.kind === 'fixed')).toBe(true);

      const byName = await api.listServers({ name: serverName });
      expect(byName.map((s) => s.id)).toEqual([created.id]);
      expect(byName[0]!.metadata).toMatchObject(job);
    }, 300_000);

    it('snapshots a server (createImage) into an active image with bytes and a sha512', async () => {
      expect(server).toBeDefined();
      snapshotServerId = server!.id;
      if (fx.snapshotServer) {
        const extra = await api.createServer({
          name: `ct-${run}-snap`,
          imageId: fx.imageId,
          flavorId: fx.flavorId,
          networks: fx.snapshotServer.networks,
          availabilityZone: fx.snapshotServer.availabilityZone ?? null,
          metadata: { ...job, intercloud_role: 'snapshot-source' },
        });
        cleanup.push(() => api.deleteServer(extra.id));
        snapshotServerId = (await waitActive(extra.id)).id;
      }
      const imageId = await api.createServerImage(snapshotServerId, `ct-${run}-snapshot`, job);
      cleanup.push(() => api.deleteImage(imageId));
      expect(imageId).toMatch(/^[0-9a-f-]{36}$/);

      snapshot = await waitImageActive(api, imageId);
      expect(snapshot.size).toBeGreaterThan(0);
      expect(snapshot.hashAlgo).toBe('sha512');
      expect(snapshot.hashValue).toMatch(/^[0-9a-f]{128}$/);
      expect(snapshot.properties).toMatchObject(job);
      // The server is free again for the next task once the upload is done.
      await eventually(`server ${snapshotServerId} idle`, async () => ((await api.getServer(snapshotServerId!))?.taskState === null ? true : undefined), patience, poll);
    }, 300_000);

    it('downloads the snapshot as a stream whose sha512 is its os_hash_value', async () => {
      expect(snapshot).toBeDefined();
      const download = await api.downloadImage(snapshot!.id);
      expect(download.stream).toBeInstanceOf(Readable);
      expect(download.size).toBe(snapshot!.size);
      const got = await sha512Of(download.stream);
      expect(got.bytes).toBe(snapshot!.size);
      expect(got.sha512).toBe(snapshot!.hashValue);
      if (download.md5) expect(download.md5).toBe(got.md5);
    }, 300_000);

    it('copies the snapshot into a new image by streaming download into upload; same sha512', async () => {
      expect(snapshot).toBeDefined();
      copy = await target.createImage({
        name: `ct-${run}-copy`,
        diskFormat: snapshot!.diskFormat ?? 'raw',
        containerFormat: snapshot!.containerFormat ?? 'bare',
        // Copied wholesale plus read-only attributes a careless copy would carry: the adapter must drop those.
        properties: { ...snapshot!.properties, ...job, intercloud_source: snapshot!.id, status: 'active', size: '1', checksum: 'x', os_hash_value: 'x', stores: 'file' },
      });
      cleanup.push(() => target.deleteImage(copy!.id));
      expect(copy).toMatchObject({ status: 'queued', size: null, hashValue: null });
      expect(copy.properties).toMatchObject({ intercloud_source: snapshot!.id });

      const download = await api.downloadImage(snapshot!.id);
      await target.uploadImage(copy.id, download.stream, download.size);
      const uploaded = await waitImageActive(target, copy.id);
      expect(uploaded.size).toBe(snapshot!.size);
      expect(uploaded.hashValue).toBe(snapshot!.hashValue);
      if (snapshot!.checksum) expect(uploaded.checksum).toBe(snapshot!.checksum);

      // Glance keeps an active image's bytes: a second upload is refused.
      await expect(target.uploadImage(copy.id, Readable.from([Buffer.from('again')]), 5)).rejects.toBeInstanceOf(ConflictError);
    }, 300_000);

    it('lists images by name, status and property', async () => {
      expect(copy).toBeDefined();
      expect((await target.listImages({ name: copy!.name! })).map((i) => i.id)).toEqual([copy!.id]);
      expect((await target.listImages({ properties: { intercloud_source: snapshot!.id } })).map((i) => i.id)).toEqual([copy!.id]);
      expect((await target.listImages({ status: 'active', properties: job })).map((i) => i.id)).toContain(copy!.id);
      expect(await target.listImages({ name: `ct-${run}-no-such-image` })).toEqual([]);
    });

    it('reads the console output of a running server', async () => {
      expect(typeof (await api.getConsoleOutput(server!.id, 20))).toBe('string');
    });

    it("attaches a floating IP to the server's port: listed, then shown in the server's addresses", async () => {
      expect(server).toBeDefined();
      const ports = await api.listPorts(server!.id);
      const port = ports.find((p) => p.networkId === fx.networkId);
      expect(port).toMatchObject({ deviceId: server!.id, fixedIps: [expect.any(String)] });

      const fip = await api.createFloatingIp(fx.externalNetworkId, port!.id);
      floatingIpId = fip.id;
      cleanup.push(() => api.deleteFloatingIp(fip.id));
      expect(fip).toMatchObject({ portId: port!.id, networkId: fx.externalNetworkId, address: expect.any(String) });
      expect((await api.listFloatingIps({ portId: port!.id })).map((f) => f.id)).toEqual([fip.id]);
      expect((await api.listFloatingIps()).map((f) => f.id)).toContain(fip.id);

      await eventually(
        `floating IP ${fip.address} in server ${server!.id}'s addresses`,
        async () => {
          const s = await api.getServer(server!.id);
          return s?.addresses.some((a) => a.kind === 'floating' && a.address === fip.address) ? true : undefined;
        },
        patience,
        poll,
      );
    }, 300_000);

    it('deletes the floating IP, the servers and the images; shows of deleted things are null; deleting again is a no-op', async () => {
      expect(floatingIpId && server && snapshot && copy).toBeTruthy();
      await api.deleteFloatingIp(floatingIpId!);
      expect((await api.listFloatingIps()).map((f) => f.id)).not.toContain(floatingIpId);

      const serverIds = [...new Set([server!.id, snapshotServerId!])];
      for (const id of serverIds) await api.deleteServer(id);
      for (const id of serverIds) await eventually(`server ${id} gone`, async () => ((await api.getServer(id)) === null ? true : undefined), patience, poll);
      expect(await api.listServers({ name: serverName })).toEqual([]);

      await api.deleteImage(snapshot!.id);
      await target.deleteImage(copy!.id);
      expect(await api.getImage(snapshot!.id)).toBeNull();
      expect(await target.getImage(copy!.id)).toBeNull();

      // Idempotent deletes: all of these are gone already.
      await api.deleteFloatingIp(floatingIpId!);
      for (const id of serverIds) await api.deleteServer(id);
      await api.deleteImage(snapshot!.id);
      await target.deleteImage(copy!.id);
      const never = randomUUID();
      expect(await api.getServer(never)).toBeNull();
      expect(await api.getImage(never)).toBeNull();
    }, 300_000);
  });
}
