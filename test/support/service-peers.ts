/**
 * The real peers of the SIP service path (Nagios + Apache, Kamailio on MariaDB, SIPp, a loopback
 * sshd): scripts/peers/start.sh writes `${INTERCLOUD_PEERS_DIR:-/var/lib/intercloud-peers}/peers.json`.
 * Present: use them. Absent: skip outside CI, fail under CI=true (where .ci/run starts them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostKey } from '../../src/ports/remote-shell.port';

export interface KamailioPeer {
  sipHost: string;
  sipPort: number;
  rpcUrl: string;
  /** The table the broker writes: `dispatcher` or the OpenSIPS `load_balancer`. */
  table: string;
  /** The table Kamailio reads (the `lb_dispatcher` view for load_balancer). */
  kamailioTable: string;
  reloadMethod: string;
  listMethod: string;
  pidFile: string;
  log: string;
}

export interface ServicePeers {
  stateDir: string;
  nagios: {
    statusUrl: string;
    username: string;
    password: string;
    mainConfig: string;
    configDir: string;
    verifyCommand: string[];
    pidFile: string;
    commandFile: string;
    log: string;
    hostTemplate: string;
    serviceTemplate: string;
    /** A host and passive service of the peers' own configuration. */
    host: string;
    passiveService: string;
  };
  mysql: { host: string; port: number; user: string; password: string; database: string };
  kamailio: { dispatcher: KamailioPeer; loadBalancer: KamailioPeer };
  sipp: { binary: string; uasScenario: string; uacScenario: string; workerScript: string; stateDir: string };
  ssh: {
    listen: string;
    port: number;
    pidFile: string;
    log: string;
    hostKeys: Array<HostKey & { publicKey: string }>;
    users: { root: string; sudo: string; plain: string };
    clientKey: { privateKey: string; publicKey: string; file: string };
    rsaPemKey: { privateKey: string; file: string };
    encryptedKey: { privateKey: string; passphrase: string; file: string };
    unauthorizedKey: { privateKey: string };
  };
}

export const servicePeersFile = path.join(process.env.INTERCLOUD_PEERS_DIR ?? '/var/lib/intercloud-peers', 'peers.json');

/** The project's own SIPp scenarios (this checkout's, whichever checkout started the peers). */
export const SIPP_SCENARIOS = {
  uas: path.resolve(__dirname, '../../scripts/peers/sipp/uas_rr.xml'),
  uac: path.resolve(__dirname, '../../scripts/peers/sipp/uac_rr.xml'),
};

/** The peers, or null when they are not set up here (a failure under CI, where they must be). */
export function readServicePeers(): ServicePeers | null {
  if (fs.existsSync(servicePeersFile)) return JSON.parse(fs.readFileSync(servicePeersFile, 'utf8')) as ServicePeers;
  if (process.env.CI === 'true') {
    throw new Error(`${servicePeersFile} is missing: start the peers with scripts/peers/install.sh and scripts/peers/start.sh (or set INTERCLOUD_PEERS_DIR)`);
  }
  return null;
}

/**
 * `describe(name, body)` with the peers; a failing test naming the missing file under CI; a
 * skipped test (and a line saying why) elsewhere.
 */
export function describeWithServicePeers(name: string, body: (peers: ServicePeers) => void): void {
  let peers: ServicePeers | null;
  try {
    peers = readServicePeers();
  } catch (err) {
    describe(name, () => {
      it('has its peers (scripts/peers/start.sh)', () => {
        throw err;
      });
    });
    return;
  }
  if (peers) {
    const found = peers;
    describe(name, () => body(found));
    return;
  }
  console.log(`${name} skipped: ${servicePeersFile} is absent (scripts/peers/start.sh writes it)`);
  test.skip(`${name} (no peers.json)`, () => undefined);
}
