/**
 * The real OpenStack clouds of test/peers/openstack: up.sh writes
 * `${OPENSTACK_STATE_DIR:-/var/lib/intercloud-openstack}/clouds.json`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CloudApi, Server } from '../../src/ports/cloud-api.port';

/** One entry of clouds.json (written by test/peers/openstack/lib/seed.py). */
export interface PeerCloud {
  name: string;
  authUrl: string;
  region: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  applicationCredentialId: string;
  applicationCredentialSecret: string;
  imageId: string;
  flavorId: string;
  flavorName: string;
  networkId: string;
  externalNetworkId: string;
  defaultAvailabilityZone: string;
  qemuAvailabilityZone: string | null;
}

export const peerCloudsFile = path.join(process.env.OPENSTACK_STATE_DIR ?? '/var/lib/intercloud-openstack', 'clouds.json');

/** The peers, or null when they are not set up here (a failure under CI, where they must be). */
export function readPeerClouds(): PeerCloud[] | null {
  if (fs.existsSync(peerCloudsFile)) return (JSON.parse(fs.readFileSync(peerCloudsFile, 'utf8')) as { clouds: PeerCloud[] }).clouds;
  if (process.env.CI === 'true') {
    throw new Error(`${peerCloudsFile} is missing: bring the clouds up with test/peers/openstack/up.sh (or set OPENSTACK_STATE_DIR)`);
  }
  return null;
}

/**
 * Boots a server from the cloud's seeded image (no network) and waits, up to 5 minutes, until it
 * is ACTIVE. `created` hears of it as soon as it exists, so a test's cleanup deletes it even when
 * it never becomes ACTIVE.
 */
export async function bootSourceServer(api: CloudApi, cloud: PeerCloud, namePrefix: string, created: (s: Server) => void): Promise<Server> {
  let s = await api.createServer({
    name: `${namePrefix}-${crypto.randomBytes(3).toString('hex')}`,
    imageId: cloud.imageId,
    flavorId: cloud.flavorId,
    networks: 'none',
    availabilityZone: cloud.qemuAvailabilityZone,
    metadata: {},
  });
  created(s);
  const deadline = Date.now() + 300_000;
  while (s.status !== 'ACTIVE') {
    if (s.status === 'ERROR' || Date.now() > deadline) throw new Error(`source server ${s.id} is ${s.status}`);
    await new Promise((r) => setTimeout(r, 1000));
    s = (await api.getServer(s.id))!;
  }
  return s;
}
