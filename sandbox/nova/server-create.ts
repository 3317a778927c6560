/**
 * `POST /servers`: validates the request like Nova (400 on bad input, 403 over quota), creates
 * the record and its ports, and hands the rest to the build lifecycle.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import type { FlavorOptions } from '../config/cloud-options.schema';
import type { NetworkRecord, PortRecord, ServerRecord } from '../cloud/cloud.state';
import { OpenStackError } from '../http/openstack-error';
import { atLeast, getAuth } from '../http/request-context';
import { PRIVATE_NETWORK } from '../neutron/network.setup';
import { AddressPoolExhausted, createServerPort, releaseServerPorts } from '../neutron/ports';
import { findFlavor } from './flavors.routes';
import { assertQuota } from './quota';
import { startBuild } from './server.lifecycle';
import { SANDBOX_HOST } from './server.view';

type NetworkRequest = { uuid?: string; port?: string; fixed_ip?: string };

function invalid(detail: string): OpenStackError {
  return new OpenStackError(400, `Invalid input for field/attribute server. ${detail}`);
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`'${field}' must be an object`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.some(([k, v]) => typeof v !== 'string' || k.length === 0 || k.length > 255 || v.length > 255)) {
    throw invalid(`'${field}' keys and values must be strings of 1-255 characters`);
  }
  if (entries.length > 128) throw new OpenStackError(403, 'Quota exceeded for metadata_items: Requested 129, but already used 0 of 128 metadata_items');
  return Object.fromEntries(entries) as Record<string, string>;
}

interface ServerRequest {
  name: string;
  imageId: string;
  flavor: FlavorOptions;
  availabilityZone: string;
  metadata: Record<string, string>;
  tags: string[];
  keyName: string | null;
  description: string | null;
  userData: string | null;
  networks: ResolvedNetwork[];
}

/** Every check Nova's API makes before it accepts a boot (400s, and the 403 for quota). */
function parseServerRequest(cloud: CloudContext, req: Request): ServerRequest {
  const auth = getAuth(req);
  const body = (req.body as { server?: Record<string, unknown> } | undefined)?.server;
  if (!body || typeof body !== 'object') throw new OpenStackError(400, "Invalid input for field/attribute server. Value: None. None is not of type 'object'");
  const name = body.name;
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 255) throw invalid("'name' is a required property (1-255 characters)");
  if (body.block_device_mapping_v2 !== undefined) throw new OpenStackError(400, 'Block device mapping is not supported by the sandbox; boot from imageRef.');
  if (Number(body.max_count ?? 1) > 1 || Number(body.min_count ?? 1) > 1) throw new OpenStackError(400, 'The sandbox boots one server per request (min_count/max_count 1).');

  const flavorRef = typeof body.flavorRef === 'number' ? String(body.flavorRef) : body.flavorRef;
  if (typeof flavorRef !== 'string') throw invalid("'flavorRef' is a required property");
  const flavor = findFlavor(cloud, flavorRef.split('/').pop()!);
  if (!flavor) throw new OpenStackError(400, 'Invalid flavorRef provided.');

  if (typeof body.imageRef !== 'string' || body.imageRef === '') throw invalid("'imageRef' is a required property");
  const imageId = body.imageRef.split('/').pop()!;
  const image = cloud.state.images.get(imageId);
  if (!image || !(auth.isAdmin || image.owner === auth.projectId || image.visibility === 'public' || image.visibility === 'community')) {
    throw new OpenStackError(400, `Image ${imageId} could not be found.`);
  }
  if (image.status !== 'active') throw new OpenStackError(400, `Image ${imageId} is not active.`);

  const az = body.availability_zone;
  if (az !== undefined && (typeof az !== 'string' || !cloud.config.availabilityZones.includes(az.split(':')[0]!))) {
    throw new OpenStackError(400, 'The requested availability zone is not available');
  }
  for (const key of ['host', 'hypervisor_hostname'] as const) {
    if (body[key] === undefined) continue;
    if (!atLeast(req, 74)) throw invalid(`Additional properties are not allowed ('${key}' was unexpected)`);
    if (!auth.isAdmin) throw new OpenStackError(403, `Policy doesn't allow compute:servers:create:requested_destination to be performed.`);
    if (body[key] !== SANDBOX_HOST) throw new OpenStackError(400, `Compute host ${String(body[key])} could not be found.`);
  }
  if (body.description !== undefined && !atLeast(req, 19)) throw invalid("Additional properties are not allowed ('description' was unexpected)");
  if (body.tags !== undefined && !atLeast(req, 52)) throw invalid("Additional properties are not allowed ('tags' was unexpected)");
  const parsed: ServerRequest = {
    name,
    imageId,
    flavor,
    availabilityZone: typeof az === 'string' ? az.split(':')[0]! : cloud.config.availabilityZones[0]!,
    metadata: stringMap(body.metadata, 'metadata'),
    tags: Array.isArray(body.tags) ? body.tags.map(String) : [],
    keyName: typeof body.key_name === 'string' ? body.key_name : null,
    description: typeof body.description === 'string' ? body.description : null,
    userData: typeof body.user_data === 'string' ? body.user_data : null,
    networks: resolveNetworks(cloud, req, body.networks),
  };
  assertQuota(cloud, auth.projectId, flavor);
  return parsed;
}

export function createServer(cloud: CloudContext, req: Request): { server: ServerRecord; adminPass: string } {
  const auth = getAuth(req);
  const { flavor, networks, ...fields } = parseServerRequest(cloud, req);
  const now = new Date();
  const server: ServerRecord = {
    ...fields,
    id: randomUUID(),
    projectId: auth.projectId,
    userId: auth.userId,
    flavorId: flavor.id,
    status: 'BUILD',
    vmState: 'building',
    taskState: 'scheduling',
    powerState: 0,
    createdAt: now,
    updatedAt: now,
    launchedAt: null,
    portIds: [],
    fault: null,
    hostId: createHash('sha224').update(`${auth.projectId}${SANDBOX_HOST}`).digest('hex'),
    instanceName: cloud.state.nextInstanceName(),
    reservationId: `r-${randomBytes(4).toString('hex').slice(0, 8)}`,
    consoleLog: [],
    deleting: false,
  };
  try {
    server.portIds = networks.map((n) => bindPort(cloud, n, server)).map((p) => p.id);
  } catch (err) {
    releaseServerPorts(cloud, server.id);
    if (!(err instanceof AddressPoolExhausted)) throw err;
    server.portIds = [];
    server.buildError = `Build of instance ${server.id} aborted: Failed to allocate the network(s), not rescheduling.`;
  }
  cloud.state.servers.set(server.id, server);
  startBuild(cloud, server);
  return { server, adminPass: randomBytes(9).toString('base64url') };
}

type ResolvedNetwork = { network: NetworkRecord; port?: PortRecord; fixedIp?: string };

/** `networks`: required from 2.37 ("auto", "none" or a list of {uuid|port|fixed_ip}); before, "auto" by default. */
function resolveNetworks(cloud: CloudContext, req: Request, value: unknown): ResolvedNetwork[] {
  if (value === undefined && atLeast(req, 37)) throw invalid("'networks' is a required property");
  if (value === 'none') return [];
  if (value === undefined || value === 'auto') {
    const candidates = [...cloud.state.networks.values()].filter((n) => !n.external && (n.shared || n.projectId === getAuth(req).projectId));
    const preferred = candidates.find((n) => n.name === PRIVATE_NETWORK) ?? candidates[0];
    if (!preferred) throw new OpenStackError(400, 'Unable to automatically allocate a network for project');
    return [{ network: preferred }];
  }
  if (!Array.isArray(value)) throw invalid(`'networks' must be "auto", "none" or a list`);
  return value.map((raw: unknown) => {
    const item = raw as NetworkRequest;
    if (item.port) {
      const port = cloud.state.ports.get(item.port);
      if (!port) throw new OpenStackError(400, `Port id ${item.port} could not be found.`);
      if (port.deviceId) throw new OpenStackError(409, `Port ${item.port} is still in use.`);
      return { network: cloud.state.networks.get(port.networkId)!, port };
    }
    const network = item.uuid ? cloud.state.networks.get(item.uuid) : undefined;
    if (!network) throw new OpenStackError(400, `Network ${item.uuid ?? 'None'} could not be found.`);
    if (network.external && !network.shared) throw new OpenStackError(400, `Network ${network.id} is an external network and cannot be used to boot servers.`);
    return { network, fixedIp: item.fixed_ip };
  });
}

function bindPort(cloud: CloudContext, wanted: ResolvedNetwork, server: ServerRecord): PortRecord {
  if (wanted.port) {
    wanted.port.deviceId = server.id;
    wanted.port.deviceOwner = 'compute:nova';
    return wanted.port;
  }
  return createServerPort(cloud, wanted.network, server.id, server.projectId, wanted.fixedIp);
}
