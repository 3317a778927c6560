/**
 * The real OpenStack clouds of test/peers/openstack: up.sh writes
 * `${OPENSTACK_STATE_DIR:-/var/lib/intercloud-openstack}/clouds.json`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

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
