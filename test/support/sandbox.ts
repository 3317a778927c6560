/** Sandbox OpenStack clouds (real HTTP on loopback) for tests, and the inputs tests register them with. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloudOptions, startSandbox, Sandbox, SandboxCloud } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi, Server } from '../../src/ports/cloud-api.port';
import { LAB_ENDPOINTS } from './lab';

/** Clouds by name, or with options (`{ name, host: '127.0.0.2' }`). */
export async function startSandboxClouds(...clouds: (string | CloudOptions)[]): Promise<Sandbox> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-sandbox-'));
  const sandbox = await startSandbox({ dataDir, clouds: clouds.map((c) => (typeof c === 'string' ? { name: c, port: 0 } : { port: 0, ...c })) });
  return {
    ...sandbox,
    cloud: sandbox.cloud.bind(sandbox),
    stop: async () => {
      await sandbox.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The cloud's admin password credential, in the shape of RegisterCloudInput.credentials. */
export function passwordCredentials(cloud: SandboxCloud) {
  const p = cloud.credentials.password;
  return { username: p.username, password: p.password, projectName: p.projectName, userDomainName: p.userDomainName, projectDomainName: p.projectDomainName };
}

/** A RegisterCloudInput for a sandbox cloud; `extra` overrides or adds fields. */
export function registerCloudInput(cloud: SandboxCloud, name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    authUrl: cloud.authUrl,
    region: cloud.region,
    credentials: passwordCredentials(cloud),
    bandwidthMbps: 1000,
    costPerHour: 0.1,
    ...extra,
  };
}

/** The test's own OpenStack client factory, with the lab endpoint policy (sandbox clouds are plain HTTP on loopback). */
export function labCloudApiFactory(): OpenStackCloudApiFactory {
  return new OpenStackCloudApiFactory({ endpoints: LAB_ENDPOINTS });
}

/** A CloudApi on the sandbox cloud as its admin (the test's own client of the cloud). */
export function sandboxApi(factory: OpenStackCloudApiFactory, cloud: SandboxCloud): CloudApi {
  return factory.forConnection({
    cloudId: null,
    name: cloud.name,
    authUrl: cloud.authUrl,
    region: cloud.region,
    credentials: { kind: 'PASSWORD', ...passwordCredentials(cloud) },
    pinnedCatalog: null,
  });
}

/** Boots a server on the cloud's private network from `imageId` (default: its first active image) and waits for ACTIVE. */
export async function bootSandboxServer(cloud: SandboxCloud, name: string, imageId?: string, factory?: OpenStackCloudApiFactory): Promise<Server> {
  const own = factory ?? labCloudApiFactory();
  const api = sandboxApi(own, cloud);
  try {
    const image = imageId ?? (await api.listImages({ status: 'active' }))[0].id;
    const [flavor] = await api.listFlavors();
    const info = await cloud.control.info();
    let server = await api.createServer({ name, imageId: image, flavorId: flavor.id, networks: [info.networks.private.id], metadata: {} });
    while (server.status !== 'ACTIVE') {
      if (server.status === 'ERROR') throw new Error(`sandbox server ${server.id} in ${cloud.name} went to ERROR`);
      await new Promise((r) => setTimeout(r, 50));
      server = (await api.getServer(server.id))!;
    }
    return server;
  } finally {
    if (!factory) await own.close();
  }
}
