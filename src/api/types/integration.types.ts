import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { LoadBalancerKind, MonitoringHealth } from './enums';

@ObjectType({ description: 'An SSH key pair of your tenant. The private key and its passphrase are stored encrypted and are never readable.' })
export class SshKey {
  @Field(() => ID, { description: 'SSH key id.' })
  id!: string;

  @Field({ description: 'Name, unique among your SSH keys.' })
  name!: string;

  @Field({ description: 'User the broker logs in as with this key (commands run under sudo -n unless it is root).' })
  username!: string;

  @Field({ description: 'Key algorithm, e.g. ssh-ed25519.' })
  algorithm!: string;

  @Field({ description: 'Public key as one authorized_keys line: authorise it on your VMs and Nagios servers.' })
  publicKey!: string;

  @Field({ description: 'SHA256 fingerprint of the public key, as ssh-keygen -lf prints it.' })
  fingerprint!: string;

  @Field({ description: 'When the key was created.' })
  createdAt!: Date;

  @Field({ description: 'When it was last changed.' })
  updatedAt!: Date;
}

@InputType({ description: 'A new SSH key pair. The public key and its fingerprint are derived from the private key.' })
export class SshKeyInput {
  @Field({ description: 'Name, unique among your SSH keys.' })
  name!: string;

  @Field({ description: 'POSIX user to log in as.' })
  username!: string;

  @Field({ description: 'OpenSSH or PEM private key (RSA, ECDSA or Ed25519). Never returned.' })
  privateKey!: string;

  @Field(() => String, { nullable: true, description: 'Passphrase of an encrypted private key (not kept when the key is not encrypted). Never returned.' })
  passphrase?: string | null;
}

@InputType({ description: 'Changes to an SSH key; omitted fields stay as they are.' })
export class UpdateSshKeyInput {
  @Field({ nullable: true, description: 'New name.' })
  name?: string;

  @Field({ nullable: true, description: 'New login user.' })
  username?: string;

  @Field({ nullable: true, description: 'A replacement private key (the public key and fingerprint follow it).' })
  privateKey?: string;

  @Field(() => String, { nullable: true, description: 'Passphrase of the replacement private key (only together with privateKey).' })
  passphrase?: string | null;
}

@ObjectType({ description: 'An SSH host key the broker expects a server to present.' })
export class SshHostKey {
  @Field(() => String, { nullable: true, description: 'Key algorithm, e.g. ssh-ed25519; null when only the fingerprint was given.' })
  algorithm!: string | null;

  @Field({ description: 'SHA256 fingerprint, as ssh-keygen -lf prints it.' })
  fingerprint!: string;
}

@ObjectType({ description: 'A Nagios 4 server of your tenant: where the poller reads service states and where VMs are registered. Its password is never readable.' })
export class MonitoringServer {
  @Field(() => ID, { description: 'Monitoring server id.' })
  id!: string;

  @Field({ description: 'Name, unique among your monitoring servers.' })
  name!: string;

  @Field({ description: 'URL of statusjson.cgi, read with HTTP basic authentication.' })
  statusUrl!: string;

  @Field({ description: 'HTTP basic user name for statusUrl.' })
  username!: string;

  @Field({ description: 'Host (name or address) the broker reaches over SSH to change the configuration.' })
  sshHost!: string;

  @Field(() => Int, { description: 'SSH port.' })
  sshPort!: number;

  @Field(() => ID, { description: 'The SSH key the broker logs in with.' })
  sshKeyId!: string;

  @Field({ description: 'Directory the broker writes one <host name>.cfg per VM into (nagios.cfg must include it with cfg_dir).' })
  configDir!: string;

  @Field(() => [String], { description: 'Argument vector that verifies the whole configuration before every reload; exit 0 means valid.' })
  verifyCommand!: string[];

  @Field({ description: 'PID file of the Nagios process, which gets SIGHUP to reload once the configuration verified.' })
  pidFile!: string;

  @Field(() => MonitoringHealth, { description: 'What the last poll found.' })
  health!: MonitoringHealth;

  @Field(() => String, { nullable: true, description: 'Why the last poll failed, if it did.' })
  lastError!: string | null;

  @Field(() => Date, { nullable: true, description: 'When the poller last tried to read the server.' })
  lastPolledAt!: Date | null;

  @Field({ description: 'When the server was registered.' })
  createdAt!: Date;

  @Field({ description: 'When it was last changed.' })
  updatedAt!: Date;
}

@InputType({ description: 'A Nagios 4 server to register.' })
export class MonitoringServerInput {
  @Field({ description: 'Name, unique among your monitoring servers.' })
  name!: string;

  @Field({ description: 'http(s) URL of statusjson.cgi, e.g. https://nagios.example.net/cgi-bin/nagios4/statusjson.cgi (no user info, query or fragment).' })
  statusUrl!: string;

  @Field({ description: 'HTTP basic user name.' })
  username!: string;

  @Field({ description: 'HTTP basic password; only ever sent to statusUrl. Never returned.' })
  password!: string;

  @Field({ description: 'Host name (RFC 1123) or IP address to reach over SSH.' })
  sshHost!: string;

  @Field(() => Int, { nullable: true, description: 'SSH port (default 22).' })
  sshPort?: number;

  @Field(() => ID, { description: 'One of your SSH keys, authorised on the server.' })
  sshKeyId!: string;

  @Field({ description: 'The host key the server must present: its OpenSSH public key line (e.g. the content of ssh_host_ed25519_key.pub) or its SHA256: fingerprint.' })
  sshHostKey!: string;

  @Field({ description: 'Absolute directory for the per-VM host files, e.g. /etc/nagios4/conf.d/intercloud.' })
  configDir!: string;

  @Field(() => [String], { nullable: true, description: 'Verify command as an argument vector (default ["nagios4", "-v", "/etc/nagios4/nagios.cfg"]).' })
  verifyCommand?: string[];

  @Field({ nullable: true, description: 'PID file to HUP for a reload (default /run/nagios4/nagios4.pid).' })
  pidFile?: string;
}

@InputType({ description: 'Changes to a monitoring server; omitted fields stay as they are.' })
export class UpdateMonitoringServerInput {
  @Field({ nullable: true, description: 'New name.' })
  name?: string;

  @Field({ nullable: true, description: 'New statusjson.cgi URL; requires password too (the stored one is never sent to a new URL).' })
  statusUrl?: string;

  @Field({ nullable: true, description: 'New HTTP basic user name.' })
  username?: string;

  @Field({ nullable: true, description: 'New HTTP basic password.' })
  password?: string;

  @Field({ nullable: true, description: 'New SSH host; requires sshHostKey too.' })
  sshHost?: string;

  @Field(() => Int, { nullable: true, description: 'New SSH port; requires sshHostKey too.' })
  sshPort?: number;

  @Field(() => ID, { nullable: true, description: 'Another of your SSH keys.' })
  sshKeyId?: string;

  @Field({ nullable: true, description: 'New pinned host key (public key line or SHA256: fingerprint).' })
  sshHostKey?: string;

  @Field({ nullable: true, description: 'New config directory.' })
  configDir?: string;

  @Field(() => [String], { nullable: true, description: 'New verify command.' })
  verifyCommand?: string[];

  @Field({ nullable: true, description: 'New PID file.' })
  pidFile?: string;
}

@ObjectType({ description: "The MySQL/MariaDB database holding a load balancer's destinations (the password is never readable)." })
export class LoadBalancerDb {
  @Field({ description: 'Database server host (name or address).' })
  host!: string;

  @Field(() => Int, { description: 'Database server port.' })
  port!: number;

  @Field({ description: 'Database user.' })
  user!: string;

  @Field({ description: 'Database (schema) name.' })
  database!: string;
}

@ObjectType({ description: 'A SIP load balancer of your tenant: a destinations table in MySQL/MariaDB and a JSON-RPC endpoint that reloads it.' })
export class LoadBalancer {
  @Field(() => ID, { description: 'Load balancer id.' })
  id!: string;

  @Field({ description: 'Name, unique among your load balancers.' })
  name!: string;

  @Field(() => LoadBalancerKind, { description: 'Kamailio dispatcher or OpenSIPS load_balancer.' })
  kind!: LoadBalancerKind;

  @Field({ name: 'table', description: 'Table of destinations (dispatcher or load_balancer unless set otherwise).' })
  tableName!: string;

  @Field({ description: 'JSON-RPC endpoint, e.g. http://10.0.0.2:5080/RPC.' })
  rpcUrl!: string;

  @Field({ description: 'JSON-RPC method that reloads the table (dispatcher.reload, lb_reload).' })
  reloadMethod!: string;

  @Field(() => String, { nullable: true, description: 'JSON-RPC method listing live destinations (dispatcher.list); null: the table is re-read instead.' })
  listMethod!: string | null;

  @Field({ description: 'When the load balancer was registered.' })
  createdAt!: Date;

  @Field({ description: 'When it was last changed.' })
  updatedAt!: Date;
}

@InputType({ description: "A load balancer's database connection." })
export class LoadBalancerDbInput {
  @Field({ description: 'Host name (RFC 1123) or IP address.' })
  host!: string;

  @Field(() => Int, { nullable: true, description: 'Port (default 3306).' })
  port?: number;

  @Field({ description: 'User.' })
  user!: string;

  @Field({ description: 'Password (may be empty); only ever sent to this host, port and user. Never returned.' })
  password!: string;

  @Field({ description: 'Database name (letters, digits, _).' })
  database!: string;
}

@InputType({ description: "Changes to a load balancer's database connection; a new host, port or user needs the password too." })
export class LoadBalancerDbUpdateInput {
  @Field({ nullable: true, description: 'New host.' })
  host?: string;

  @Field(() => Int, { nullable: true, description: 'New port.' })
  port?: number;

  @Field({ nullable: true, description: 'New user.' })
  user?: string;

  @Field({ nullable: true, description: 'New password.' })
  password?: string;

  @Field({ nullable: true, description: 'New database name.' })
  database?: string;
}

@InputType({ description: 'A SIP load balancer to register.' })
export class LoadBalancerInput {
  @Field({ description: 'Name, unique among your load balancers.' })
  name!: string;

  @Field(() => LoadBalancerKind, { description: 'KAMAILIO_DISPATCHER or OPENSIPS_LOAD_BALANCER.' })
  kind!: LoadBalancerKind;

  @Field(() => LoadBalancerDbInput, { description: 'Where the destinations table is.' })
  db!: LoadBalancerDbInput;

  @Field({ nullable: true, description: 'Table name (default dispatcher or load_balancer by kind; letters, digits, _).' })
  table?: string;

  @Field({ description: 'JSON-RPC endpoint (http or https).' })
  rpcUrl!: string;

  @Field({ nullable: true, description: 'Reload method (default dispatcher.reload or lb_reload by kind).' })
  reloadMethod?: string;

  @Field(() => String, { nullable: true, description: 'Method listing live destinations (default dispatcher.list for Kamailio, none for OpenSIPS); null: none, the table is re-read.' })
  listMethod?: string | null;
}

@InputType({ description: 'Changes to a load balancer; omitted fields stay as they are (a new kind brings its defaults for table and methods not given).' })
export class UpdateLoadBalancerInput {
  @Field({ nullable: true, description: 'New name.' })
  name?: string;

  @Field(() => LoadBalancerKind, { nullable: true, description: 'New kind.' })
  kind?: LoadBalancerKind;

  @Field(() => LoadBalancerDbUpdateInput, { nullable: true, description: 'Changes to the database connection.' })
  db?: LoadBalancerDbUpdateInput;

  @Field({ nullable: true, description: 'New table.' })
  table?: string;

  @Field({ nullable: true, description: 'New JSON-RPC endpoint.' })
  rpcUrl?: string;

  @Field({ nullable: true, description: 'New reload method.' })
  reloadMethod?: string;

  @Field(() => String, { nullable: true, description: 'New list method; null: none.' })
  listMethod?: string | null;
}
