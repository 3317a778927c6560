/**
 * `intercloud ssh-keys | monitoring-servers | load-balancers`: what the SIP phases of a clone and
 * of a scale-down use, registered once and bound to VM types by id (see `intercloud apply`).
 * Secrets come from files or the environment and are never printed: the broker never returns them.
 */
import fs from 'node:fs';
import { Command } from 'commander';
import {
  CreateSshKeyDocument,
  DeleteLoadBalancerDocument,
  DeleteMonitoringServerDocument,
  DeleteSshKeyDocument,
  LoadBalancerInput,
  LoadBalancersDocument,
  MonitoringServerInput,
  MonitoringServersDocument,
  RegisterLoadBalancerDocument,
  RegisterMonitoringServerDocument,
  SshKeysDocument,
} from '../../sdk';
import { leaf, run } from '../command';
import { CliContext } from '../context';
import { usage } from '../errors';
import { isObject, readYamlDocuments } from '../files';
import { time } from '../format';

/** Environment variable holding the passphrase of an encrypted private key (never a flag: flags show in `ps`). */
const PASSPHRASE_ENV = 'INTERCLOUD_SSH_KEY_PASSPHRASE';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One item of a list by id or name, or a usage error naming the command that lists them. */
function pick<T extends { id: string; name: string }>(items: T[], ref: string, what: string, listCommand: string): T {
  const found = items.find((i) => (UUID.test(ref) ? i.id === ref : i.name === ref));
  if (!found) throw usage(`no ${what} "${ref}" (see: intercloud ${listCommand})`);
  return found;
}

function readSecretFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw usage(`cannot read the ${what} ${file}: ${(err as Error).message}`);
  }
}

/** The one YAML document of `file` as an input object; other fields go to the broker, which names any it does not know. */
function oneDocument(file: string, what: string): Record<string, unknown> {
  const docs = readYamlDocuments(file);
  if (docs.length !== 1 || !isObject(docs[0])) throw usage(`${file} must hold one YAML map with the fields of a ${what}`);
  return docs[0];
}

// --- SSH keys ---------------------------------------------------------------------------------

async function createKey(ctx: CliContext, opts: { name: string; user: string; privateKeyFile: string }): Promise<void> {
  const privateKey = readSecretFile(opts.privateKeyFile, 'private key file');
  const passphrase = process.env[PASSPHRASE_ENV] || undefined;
  const { createSshKey: key } = await ctx.client.request(CreateSshKeyDocument, { input: { name: opts.name, username: opts.user, privateKey, passphrase } });
  ctx.out.result(key);
  ctx.out.line(`Created SSH key ${key.name} (${key.id}): ${key.algorithm} ${key.fingerprint}, logs in as ${key.username}.`);
  ctx.out.line('Authorise this public key on your VMs and Nagios servers:');
  ctx.out.line(key.publicKey);
}

async function listKeys(ctx: CliContext): Promise<void> {
  const { sshKeys } = await ctx.client.request(SshKeysDocument);
  ctx.out.result(sshKeys);
  ctx.out.table(
    ['NAME', 'ID', 'USER', 'ALGORITHM', 'FINGERPRINT', 'CREATED'],
    sshKeys.map((k) => [k.name, k.id, k.username, k.algorithm, k.fingerprint, time(k.createdAt)]),
  );
}

async function deleteKey(ctx: CliContext, ref: string): Promise<void> {
  const key = pick((await ctx.client.request(SshKeysDocument)).sshKeys, ref, 'SSH key', 'ssh-keys list');
  await ctx.client.request(DeleteSshKeyDocument, { id: key.id });
  ctx.out.result({ deleted: true, id: key.id, name: key.name });
  ctx.out.line(`Deleted SSH key ${key.name} (${key.id}).`);
}

export function sshKeysCommand(): Command {
  const keys = new Command('ssh-keys')
    .description('SSH keys the broker logs in with to configure clones and change Nagios (private keys are stored encrypted and never shown)')
    .addHelpText('after', '\nExample:\n  intercloud ssh-keys create --name deploy --user debian --private-key-file ~/.ssh/id_ed25519\n  intercloud ssh-keys list\n');
  keys.addCommand(
    leaf(
      new Command('create')
        .description(`create a key from a private key file (OpenSSH or PEM); the passphrase of an encrypted key comes from ${PASSPHRASE_ENV}`)
        .requiredOption('--name <name>', 'name, unique among your SSH keys')
        .requiredOption('--user <user>', 'user the broker logs in as')
        .requiredOption('--private-key-file <file>', 'the private key (- for stdin); it is sent to the broker, never printed'),
      `${PASSPHRASE_ENV}=... intercloud ssh-keys create --name deploy --user debian --private-key-file ~/.ssh/id_ed25519`,
    ).action(run(createKey)),
  );
  keys.addCommand(leaf(new Command('list').description('your SSH keys with their fingerprints'), 'intercloud ssh-keys list --json | jq -r ".[].publicKey"').action(run(listKeys)));
  keys.addCommand(
    leaf(new Command('delete').description('delete a key (refused while a VM type or monitoring server uses it)').argument('<key>', 'key name or id'), 'intercloud ssh-keys delete deploy').action(
      run(deleteKey),
    ),
  );
  return keys;
}

// --- monitoring servers -----------------------------------------------------------------------

/** A monitoring server of a file; `sshKey: NAME` stands for `sshKeyId`. */
async function monitoringInput(ctx: CliContext, file: string): Promise<MonitoringServerInput> {
  const { sshKey, ...doc } = oneDocument(file, 'monitoring server (name, statusUrl, username, password, sshHost, sshKey, sshHostKey, configDir)');
  if (sshKey !== undefined) {
    if (doc.sshKeyId !== undefined) throw usage(`${file}: give sshKey or sshKeyId, not both`);
    doc.sshKeyId = pick((await ctx.client.request(SshKeysDocument)).sshKeys, String(sshKey), 'SSH key', 'ssh-keys list').id;
  }
  return doc as unknown as MonitoringServerInput;
}

async function registerMonitoring(ctx: CliContext, opts: { file: string }): Promise<void> {
  const input = await monitoringInput(ctx, opts.file);
  const { registerMonitoringServer: s } = await ctx.client.request(RegisterMonitoringServerDocument, { input });
  ctx.out.result(s);
  ctx.out.line(`Registered monitoring server ${s.name} (${s.id}): ${s.statusUrl}, configuration over SSH at ${s.sshHost}:${s.sshPort} into ${s.configDir}.`);
}

async function listMonitoring(ctx: CliContext): Promise<void> {
  const { monitoringServers } = await ctx.client.request(MonitoringServersDocument);
  ctx.out.result(monitoringServers);
  ctx.out.table(
    ['NAME', 'ID', 'HEALTH', 'STATUS URL', 'SSH', 'HOST KEY', 'CONFIG DIR', 'LAST POLL', 'LAST ERROR'],
    monitoringServers.map((s) => [s.name, s.id, s.health, s.statusUrl, `${s.sshHost}:${s.sshPort}`, s.sshHostKey.fingerprint, s.configDir, time(s.lastPolledAt), s.lastError]),
  );
}

async function deleteMonitoring(ctx: CliContext, ref: string): Promise<void> {
  const s = pick((await ctx.client.request(MonitoringServersDocument)).monitoringServers, ref, 'monitoring server', 'monitoring-servers list');
  await ctx.client.request(DeleteMonitoringServerDocument, { id: s.id });
  ctx.out.result({ deleted: true, id: s.id, name: s.name });
  ctx.out.line(`Deleted monitoring server ${s.name} (${s.id}).`);
}

const NAGIOS_YAML = `name: nagios-de
statusUrl: https://nagios.example.net/cgi-bin/nagios4/statusjson.cgi
username: intercloud
password: \${NAGIOS_PASSWORD}
sshHost: nagios.example.net
sshKey: deploy                 # or sshKeyId: <id>
sshHostKey: SHA256:...         # or the content of ssh_host_ed25519_key.pub
configDir: /etc/nagios4/conf.d/intercloud`;

export function monitoringServersCommand(): Command {
  const servers = new Command('monitoring-servers')
    .description('Nagios 4 servers: where the poller reads samples and where clones are registered (HTTP passwords are never shown)')
    .addHelpText('after', '\nExample:\n  NAGIOS_PASSWORD=... intercloud monitoring-servers register -f nagios.yaml\n  intercloud monitoring-servers list\n');
  servers.addCommand(
    leaf(
      new Command('register')
        .description('register the Nagios of a YAML file (the fields of MonitoringServerInput; ${NAME} is the environment variable NAME)')
        .requiredOption('-f, --file <file>', 'YAML file (- for stdin)')
        .addHelpText('after', `\nnagios.yaml:\n  ${NAGIOS_YAML.split('\n').join('\n  ')}\n`),
      'NAGIOS_PASSWORD=... intercloud monitoring-servers register -f nagios.yaml',
    ).action(run(registerMonitoring)),
  );
  servers.addCommand(leaf(new Command('list').description('your monitoring servers with what the poller last found'), 'intercloud monitoring-servers list').action(run(listMonitoring)));
  servers.addCommand(
    leaf(new Command('delete').description('delete a monitoring server (refused while a VM type uses it)').argument('<server>', 'name or id'), 'intercloud monitoring-servers delete nagios-de').action(
      run(deleteMonitoring),
    ),
  );
  return servers;
}

// --- load balancers ---------------------------------------------------------------------------

async function registerLb(ctx: CliContext, opts: { file: string }): Promise<void> {
  const input = oneDocument(opts.file, 'load balancer (name, kind, db, rpcUrl)') as unknown as LoadBalancerInput;
  const { registerLoadBalancer: lb } = await ctx.client.request(RegisterLoadBalancerDocument, { input });
  ctx.out.result(lb);
  ctx.out.line(`Registered load balancer ${lb.name} (${lb.id}): ${lb.kind}, table ${lb.db.database}.${lb.table} on ${lb.db.host}:${lb.db.port}, reloaded by ${lb.reloadMethod} at ${lb.rpcUrl}.`);
}

async function listLbs(ctx: CliContext): Promise<void> {
  const { loadBalancers } = await ctx.client.request(LoadBalancersDocument);
  ctx.out.result(loadBalancers);
  ctx.out.table(
    ['NAME', 'ID', 'KIND', 'DATABASE', 'TABLE', 'RPC', 'RELOAD', 'LIST'],
    loadBalancers.map((l) => [l.name, l.id, l.kind, `${l.db.user}@${l.db.host}:${l.db.port}/${l.db.database}`, l.table, l.rpcUrl, l.reloadMethod, l.listMethod]),
  );
}

async function deleteLb(ctx: CliContext, ref: string): Promise<void> {
  const lb = pick((await ctx.client.request(LoadBalancersDocument)).loadBalancers, ref, 'load balancer', 'load-balancers list');
  await ctx.client.request(DeleteLoadBalancerDocument, { id: lb.id });
  ctx.out.result({ deleted: true, id: lb.id, name: lb.name });
  ctx.out.line(`Deleted load balancer ${lb.name} (${lb.id}).`);
}

const LB_YAML = `name: kamailio-de
kind: KAMAILIO_DISPATCHER      # or OPENSIPS_LOAD_BALANCER
db: { host: 10.0.0.2, port: 3306, user: kamailio, password: "\${KAMAILIO_DB_PASSWORD}", database: kamailio }
rpcUrl: http://10.0.0.2:5080/RPC`;

export function loadBalancersCommand(): Command {
  const lbs = new Command('load-balancers')
    .description('SIP load balancers (Kamailio dispatcher, OpenSIPS load_balancer) clones join and drain from (database passwords are never shown)')
    .addHelpText('after', '\nExample:\n  KAMAILIO_DB_PASSWORD=... intercloud load-balancers register -f kamailio.yaml\n  intercloud load-balancers list\n');
  lbs.addCommand(
    leaf(
      new Command('register')
        .description('register the load balancer of a YAML file (the fields of LoadBalancerInput; ${NAME} is the environment variable NAME)')
        .requiredOption('-f, --file <file>', 'YAML file (- for stdin)')
        .addHelpText('after', `\nkamailio.yaml:\n  ${LB_YAML.split('\n').join('\n  ')}\n`),
      'KAMAILIO_DB_PASSWORD=... intercloud load-balancers register -f kamailio.yaml',
    ).action(run(registerLb)),
  );
  lbs.addCommand(leaf(new Command('list').description('your load balancers'), 'intercloud load-balancers list').action(run(listLbs)));
  lbs.addCommand(
    leaf(new Command('delete').description('delete a load balancer (refused while a VM type uses it)').argument('<lb>', 'name or id'), 'intercloud load-balancers delete kamailio-de').action(run(deleteLb)),
  );
  return lbs;
}
