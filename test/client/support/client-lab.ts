/**
 * What the client tests share: a real broker (in this process, on a database of its own), two
 * sandbox OpenStack clouds, and a tenant with an operator token. The clouds are registered by
 * each test through the client under test (CLI or dashboard), or with `registerClouds` here.
 */
import crypto from 'node:crypto';
import { Sandbox, SandboxCloud } from '../../../sandbox';
import { startTestBroker, TestBroker } from '../../support/broker';
import { registerSandboxCloud } from '../../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../../support/database';
import { gqlOk } from '../../support/graphql';
import { bootSandboxServer, passwordCredentials, startSandboxClouds } from '../../support/sandbox';
import { createTenantWithToken, TenantToken } from '../../support/tenants';

export interface ClientLab {
  db: TestDatabase;
  broker: TestBroker;
  sandbox: Sandbox;
  home: SandboxCloud;
  partner: SandboxCloud;
  tenant: TenantToken;
  /** The broker's base URL (http://127.0.0.1:PORT), as a user types it. */
  baseUrl: string;
  stop(): Promise<void>;
}

export async function startClientLab(names: [string, string], env: Record<string, string> = {}): Promise<ClientLab> {
  const sandbox = await startSandboxClouds(...names);
  for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
  const db = await createTestDatabase();
  const broker = await startTestBroker(db.url, env);
  const tenant = await createTenantWithToken(broker.url, broker.adminToken, `client-${crypto.randomBytes(3).toString('hex')}`);
  return {
    db,
    broker,
    sandbox,
    home: sandbox.cloud(names[0]),
    partner: sandbox.cloud(names[1]),
    tenant,
    baseUrl: broker.url.replace(/\/graphql$/, ''),
    stop: async () => {
      await broker.stop();
      await db.drop();
      await sandbox.stop();
    },
  };
}

/** The YAML a partner admin would write for a sandbox cloud (password credentials from the environment). */
export async function cloudYaml(cloud: SandboxCloud, passwordVar: string, extra: Record<string, string> = {}): Promise<string> {
  const c = passwordCredentials(cloud);
  const info = await cloud.control.info();
  const defaults = { flavor: 'm1.tiny', network: info.networks.private.name, floatingNetwork: info.networks.public.name, ...extra };
  return [
    `name: ${cloud.name}`,
    `authUrl: ${cloud.authUrl}`,
    `region: ${cloud.region}`,
    'credentials:',
    `  username: ${c.username}`,
    `  password: \${${passwordVar}}`,
    `  projectName: ${c.projectName}`,
    `  userDomainName: ${c.userDomainName}`,
    `  projectDomainName: ${c.projectDomainName}`,
    'labels: { jurisdiction: DE }',
    'bandwidthMbps: 1000',
    'costPerHour: 0.1',
    `defaults: { ${Object.entries(defaults).map(([k, v]) => `${k}: ${v}`).join(', ')} }`,
  ].join('\n');
}

/** Registers both clouds through the API, creates a VM type and imports a fresh server of the home cloud. */
export async function registerClouds(lab: ClientLab): Promise<{ homeId: string; partnerId: string }> {
  const homeId = await registerSandboxCloud(lab.broker.url, lab.tenant.token, lab.home);
  const info = await lab.partner.control.info();
  const partnerId = await registerSandboxCloud(lab.broker.url, lab.tenant.token, lab.partner, { network: info.networks.private.name, floatingNetwork: info.networks.public.name });
  return { homeId, partnerId };
}

export async function importServer(lab: ClientLab, cloudId: string, vmTypeId: string, name = `sip-${crypto.randomBytes(3).toString('hex')}`): Promise<{ id: string; name: string }> {
  const server = await bootSandboxServer(lab.home, name);
  const { importVm } = await gqlOk(lab.broker.url, lab.tenant.token, 'mutation($i: ImportVmInput!) { importVm(input: $i) { id name } }', {
    i: { cloudId, serverId: server.id, vmTypeId },
  });
  return importVm;
}
