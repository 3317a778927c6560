/** Integrations (SSH keys, Nagios servers, load balancers) registered through the API, as a tenant would. */
import { gqlOk } from './graphql';
import type { ServicePeers } from './service-peers';
import { KeyPair } from './ssh-keys';

export const SSH_KEY_FIELDS = 'id name username algorithm publicKey fingerprint createdAt updatedAt';
export const MONITORING_SERVER_FIELDS =
  'id name statusUrl username sshHost sshPort sshKeyId sshHostKey { algorithm fingerprint } configDir verifyCommand pidFile health lastError lastPolledAt';
export const LOAD_BALANCER_FIELDS = 'id name kind db { host port user database } table rpcUrl reloadMethod listMethod';

/** A Nagios host object for one VM, with a passive service per metric. */
export const NAGIOS_HOST_TEMPLATE = `define host {
  use        generic-host
  host_name  {{hostName}}
  address    {{fixedIp}}
  _cloud     {{cloudName}}
}
define service {
  use                 passive-service
  host_name           {{hostName}}
  service_description Active Calls
}
`;

export async function createSshKey(url: string, token: string, name: string, pair: KeyPair, o: { username?: string; passphrase?: string } = {}) {
  const { createSshKey: key } = await gqlOk(url, token, `mutation($input: SshKeyInput!) { createSshKey(input: $input) { ${SSH_KEY_FIELDS} } }`, {
    input: { name, username: o.username ?? 'sipadmin', privateKey: pair.privateKey, passphrase: o.passphrase ?? null },
  });
  return key as { id: string; name: string; username: string; algorithm: string; publicKey: string; fingerprint: string };
}

export function monitoringServerInput(name: string, sshKeyId: string, sshHostKey: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    statusUrl: 'http://127.0.0.1:8080/cgi-bin/nagios4/statusjson.cgi',
    username: 'nagiosadmin',
    password: 'nagios-secret-pw',
    sshHost: '127.0.0.1',
    sshPort: 2222,
    sshKeyId,
    sshHostKey,
    configDir: '/etc/nagios4/conf.d/intercloud',
    ...extra,
  };
}

export async function registerMonitoringServer(url: string, token: string, name: string, sshKeyId: string, sshHostKey: string, extra: Record<string, unknown> = {}) {
  const { registerMonitoringServer: server } = await gqlOk(
    url,
    token,
    `mutation($input: MonitoringServerInput!) { registerMonitoringServer(input: $input) { ${MONITORING_SERVER_FIELDS} } }`,
    { input: monitoringServerInput(name, sshKeyId, sshHostKey, extra) },
  );
  return server as { id: string; name: string } & Record<string, any>;
}

export function loadBalancerInput(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    kind: 'KAMAILIO_DISPATCHER',
    db: { host: '127.0.0.1', user: 'kamailio', password: 'kamailio-db-pw', database: 'kamailio' },
    rpcUrl: 'http://127.0.0.1:5080/RPC',
    ...extra,
  };
}

export async function registerLoadBalancer(url: string, token: string, name: string, extra: Record<string, unknown> = {}) {
  const { registerLoadBalancer: lb } = await gqlOk(url, token, `mutation($input: LoadBalancerInput!) { registerLoadBalancer(input: $input) { ${LOAD_BALANCER_FIELDS} } }`, {
    input: loadBalancerInput(name, extra),
  });
  return lb as { id: string; name: string } & Record<string, any>;
}

/**
 * The peers' root SSH key and their Nagios, registered in one tenant as an operator would: what
 * the end-to-end tests bind their VM types to.
 */
export async function registerPeersNagios(url: string, token: string, peers: ServicePeers, name: string): Promise<{ sshKeyId: string; monitoringServerId: string }> {
  const sshKeyId = (await createSshKey(url, token, `${name}-root`, { ...peers.ssh.clientKey, fingerprint: '', privateKeyFile: '', publicKeyFile: '' }, { username: 'root' })).id;
  const { registerMonitoringServer } = await gqlOk(url, token, `mutation($i: MonitoringServerInput!) { registerMonitoringServer(input: $i) { id } }`, {
    i: {
      name,
      statusUrl: peers.nagios.statusUrl,
      username: peers.nagios.username,
      password: peers.nagios.password,
      sshHost: '127.0.0.1',
      sshPort: peers.ssh.port,
      sshKeyId,
      sshHostKey: peers.ssh.hostKeys[0].publicKey,
      configDir: peers.nagios.configDir,
      verifyCommand: peers.nagios.verifyCommand,
      pidFile: peers.nagios.pidFile,
    },
  });
  return { sshKeyId, monitoringServerId: registerMonitoringServer.id };
}
