/** `intercloud clouds register | list | show | update | deregister | servers`. */
import { Command, Option } from 'commander';
import {
  CloudDocument,
  CloudServersDocument,
  CloudsDocument,
  DeregisterCloudDocument,
  RegisterCloudDocument,
  RegisterCloudInput,
  UpdateCloudDocument,
  VerifyCloudDocument,
  UpdateCloudInput,
} from '../../sdk';
import { leaf, run } from '../command';
import { CliContext, Cloud } from '../context';
import { usage } from '../errors';
import { isObject, labelList, parseLabelFlag, readYamlDocuments } from '../files';
import { time } from '../format';

/**
 * A cloud of a file: the fields of RegisterCloudInput (labels may be a map). Other fields go to
 * the broker as they are, which names any it does not know, so fields the API gains work at once.
 */
function cloudInput(doc: unknown, where: string): RegisterCloudInput {
  if (!isObject(doc)) throw usage(`${where} must be a map with the fields of a cloud (name, authUrl, region, credentials, ...)`);
  return { ...(doc as unknown as RegisterCloudInput), labels: labelList(doc.labels, `${where}.labels`) };
}

/** Clouds of a file: one per YAML document, or a `clouds:` list. */
export function cloudsOfFile(file: string): RegisterCloudInput[] {
  const docs = readYamlDocuments(file);
  const items: [unknown, string][] = docs.flatMap((d, i): [unknown, string][] =>
    isObject(d) && Array.isArray(d.clouds) ? d.clouds.map((c: unknown, j: number): [unknown, string] => [c, `${file}: clouds[${j}]`]) : [[d, `${file}: document ${i + 1}`]],
  );
  if (items.length === 0) throw usage(`${file} holds no cloud`);
  return items.map(([c, where]) => cloudInput(c, where));
}

function cloudRow(c: Cloud): (string | number | null)[] {
  return [
    c.name,
    c.id,
    c.health,
    c.healthLatencyMs === null ? null : `${c.healthLatencyMs} ms`,
    c.owned ? 'own' : 'partner',
    c.shared ? 'yes' : 'no',
    c.bandwidthMbps,
    c.costPerHour,
    c.labels.map((l) => `${l.key}=${l.value}`).join(' ') || null,
  ];
}
const CLOUD_HEAD = ['NAME', 'ID', 'HEALTH', 'LATENCY', 'OWNER', 'SHARED', 'MBIT/S', 'COST/H', 'LABELS'];

async function register(ctx: CliContext, opts: { file: string }): Promise<void> {
  const inputs = cloudsOfFile(opts.file);
  const registered: Cloud[] = [];
  for (const input of inputs) {
    const { registerCloud } = await ctx.client.request(RegisterCloudDocument, { input });
    registered.push(registerCloud);
    ctx.out.note(`registered ${registerCloud.name} (${registerCloud.id}): ${registerCloud.health}`);
  }
  ctx.out.result(registered);
  ctx.out.table(CLOUD_HEAD, registered.map(cloudRow));
}

async function list(ctx: CliContext): Promise<void> {
  const { clouds } = await ctx.client.request(CloudsDocument);
  ctx.out.result(clouds);
  if (clouds.length === 0) return ctx.out.line('No clouds. Register one: intercloud clouds register -f cloud.yaml');
  ctx.out.table(CLOUD_HEAD, clouds.map(cloudRow));
}

async function show(ctx: CliContext, ref: string): Promise<void> {
  const { cloud } = await ctx.client.request(CloudDocument, { id: (await ctx.cloud(ref)).id });
  if (!cloud) throw usage(`no cloud "${ref}"`);
  ctx.out.result(cloud);
  ctx.out.fields([
    ['name', cloud.name],
    ['id', cloud.id],
    ['auth URL', cloud.authUrl],
    ['region', cloud.region],
    ['credentials', cloud.credentialKind],
    ['owner', cloud.owned ? 'your tenant' : `tenant ${cloud.tenantId}`],
    ['shared', cloud.shared ? 'yes' : 'no'],
    ['health', `${cloud.health}${cloud.healthLatencyMs !== null ? ` (${cloud.healthLatencyMs} ms)` : ''}${cloud.healthMessage ? `: ${cloud.healthMessage}` : ''}`],
    ['checked', time(cloud.healthCheckedAt)],
    ['bandwidth', `${cloud.bandwidthMbps} Mbit/s`],
    ['cost', `${cloud.costPerHour} per VM-hour`],
    ['disk formats', cloud.diskFormats.join(', ')],
    ['labels', cloud.labels.map((l) => `${l.key}=${l.value}`).join(' ')],
    ['defaults', Object.entries(cloud.defaults).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(' ')],
    ['registered', time(cloud.createdAt)],
  ]);
  if (cloud.catalog.length > 0) ctx.out.table(['SERVICE', 'URL'], cloud.catalog.map((e) => [e.type, e.url]));
}

interface UpdateOptions {
  file?: string;
  name?: string;
  shared?: boolean;
  bandwidth?: string;
  cost?: string;
  label?: { key: string; value: string }[];
}

async function update(ctx: CliContext, ref: string, opts: UpdateOptions): Promise<void> {
  const cloud = await ctx.cloud(ref);
  let input: UpdateCloudInput = {};
  if (opts.file) {
    const docs = cloudsOfFile(opts.file);
    if (docs.length !== 1) throw usage(`${opts.file} must hold exactly one cloud for update`);
    input = docs[0] as UpdateCloudInput;
  }
  const number = (v: string, flag: string) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw usage(`${flag} must be a number, not "${v}"`);
    return n;
  };
  if (opts.name !== undefined) input.name = opts.name;
  if (opts.shared !== undefined) input.shared = opts.shared;
  if (opts.bandwidth !== undefined) input.bandwidthMbps = number(opts.bandwidth, '--bandwidth');
  if (opts.cost !== undefined) input.costPerHour = number(opts.cost, '--cost');
  if (opts.label) input.labels = opts.label;
  if (Object.keys(input).length === 0) throw usage('nothing to change: give -f FILE or at least one of --name, --shared, --no-shared, --bandwidth, --cost, --label');
  const { updateCloud } = await ctx.client.request(UpdateCloudDocument, { id: cloud.id, input });
  ctx.out.result(updateCloud);
  ctx.out.line(`Updated ${updateCloud.name} (${updateCloud.id}).`);
  ctx.out.table(CLOUD_HEAD, [cloudRow(updateCloud)]);
}

async function verify(ctx: CliContext, ref: string): Promise<void> {
  const cloud = await ctx.cloud(ref);
  const { verifyCloud } = await ctx.client.request(VerifyCloudDocument, { id: cloud.id });
  ctx.out.result(verifyCloud);
  ctx.out.line(`Verified ${verifyCloud.name} (${verifyCloud.id}): its catalog is pinned as Keystone lists it now.`);
  ctx.out.table(CLOUD_HEAD, [cloudRow(verifyCloud)]);
}

async function deregister(ctx: CliContext, ref: string): Promise<void> {
  const cloud = await ctx.cloud(ref);
  const { deregisterCloud } = await ctx.client.request(DeregisterCloudDocument, { id: cloud.id });
  ctx.out.result({ id: cloud.id, name: cloud.name, deregistered: deregisterCloud });
  ctx.out.line(`Deregistered ${cloud.name} (${cloud.id}).`);
}

async function servers(ctx: CliContext, ref: string): Promise<void> {
  const cloud = await ctx.cloud(ref);
  const { cloudServers } = await ctx.client.request(CloudServersDocument, { cloudId: cloud.id });
  ctx.out.result(cloudServers);
  ctx.out.table(
    ['NAME', 'SERVER ID', 'STATUS', 'ADDRESSES'],
    cloudServers.map((s) => [s.name, s.id, s.status, s.addresses.map((a) => `${a.address} (${a.kind})`).join(', ')]),
  );
}

export function cloudsCommand(): Command {
  const clouds = new Command('clouds').description('register and manage OpenStack clouds').addHelpText('after', '\nExample:\n  intercloud clouds register -f clouds.yaml\n  intercloud clouds list\n');
  clouds.addCommand(
    leaf(
      new Command('register')
        .description('register the clouds of a YAML file (one per document, or a `clouds:` list); the broker checks each with its Keystone first')
        .requiredOption('-f, --file <file>', 'YAML file (- for stdin); ${NAME} in a value is the environment variable NAME'),
      'intercloud clouds register -f partner-b.yaml\n\n# partner-b.yaml\nname: partner-b\nauthUrl: https://keystone.partner-b.example:5000/v3\nregion: RegionOne\ncredentials:\n  applicationCredentialId: 3f1c...\n  applicationCredentialSecret: ${PARTNER_B_SECRET}\nlabels: { jurisdiction: DE }\nbandwidthMbps: 1000\ncostPerHour: 0.12\ndefaults: { network: private, floatingNetwork: public, flavor: m1.small }',
    ).action(run(register)),
  );
  clouds.addCommand(leaf(new Command('list').description('your clouds and those partners share, with health'), 'intercloud clouds list --json').action(run(list)));
  clouds.addCommand(leaf(new Command('show').description('one cloud in detail').argument('<cloud>', 'cloud name or id'), 'intercloud clouds show partner-b').action(run(show)));
  clouds.addCommand(
    leaf(
      new Command('update')
        .description('change a cloud you own (new connection settings are checked with Keystone first)')
        .argument('<cloud>', 'cloud name or id')
        .option('-f, --file <file>', 'YAML with the fields to change')
        .option('--name <name>', 'new name')
        .addOption(new Option('--shared', 'offer it to every tenant as a clone target'))
        .addOption(new Option('--no-shared', 'stop offering it'))
        .option('--bandwidth <mbps>', 'link bandwidth, Mbit/s')
        .option('--cost <perHour>', 'cost hint per VM-hour')
        .option('--label <key=value>', 'replace the labels (repeat for several)', (v: string, prev?: { key: string; value: string }[]) => parseLabelFlag(v, prev)),
      'intercloud clouds update partner-b --shared --label jurisdiction=DE --label cert=c5',
    ).action(run(update)),
  );
  clouds.addCommand(
    leaf(
      new Command('verify')
        .description("re-verify a cloud you own with its stored credentials and pin the catalog Keystone lists now (needed after the cloud's catalog changed)")
        .argument('<cloud>', 'cloud name or id'),
      'intercloud clouds verify partner-b',
    ).action(run(verify)),
  );
  clouds.addCommand(
    leaf(new Command('deregister').description('deregister a cloud you own: its VMs are retired and clone jobs of other tenants using it cancelled (refused while your own clone jobs use it)').argument('<cloud>', 'cloud name or id'), 'intercloud clouds deregister partner-b').action(
      run(deregister),
    ),
  );
  clouds.addCommand(
    leaf(new Command('servers').description('servers of one of your clouds as its Nova lists them (to pick one for `vms import`)').argument('<cloud>', 'cloud name or id'), 'intercloud clouds servers home').action(
      run(servers),
    ),
  );
  return clouds;
}
