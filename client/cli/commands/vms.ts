/** `intercloud vms import | list`, `intercloud vm-types list` and `intercloud matchmake VM`. */
import { Command } from 'commander';
import { CloudServersDocument, ImportVmDocument, MatchmakeDocument, VmsDocument, VmTypesDocument } from '../../sdk';
import { leaf, run } from '../command';
import { CliContext, Vm } from '../context';
import { usage } from '../errors';
import { seconds } from '../format';
import { scaleDownVmCommand } from './scale-down';

const vmRow = (v: Vm, types: Map<string, string>) => [
  v.name,
  v.id,
  v.cloud?.name ?? '-',
  v.vmTypeId ? (types.get(v.vmTypeId) ?? v.vmTypeId) : '-',
  v.state,
  v.origin,
  v.addresses.map((a) => `${a.address} (${a.kind})`).join(', '),
];

async function list(ctx: CliContext, opts: { vmType?: string; cloud?: string }): Promise<void> {
  const vmTypeId = opts.vmType ? (await ctx.vmType(opts.vmType)).id : undefined;
  const cloudId = opts.cloud ? (await ctx.cloud(opts.cloud)).id : undefined;
  const [{ vms }, { vmTypes }] = await Promise.all([ctx.client.request(VmsDocument, { vmTypeId, cloudId }), ctx.client.request(VmTypesDocument)]);
  ctx.out.result(vms);
  const types = new Map(vmTypes.map((t) => [t.id, t.name]));
  ctx.out.table(['NAME', 'ID', 'CLOUD', 'VM TYPE', 'STATE', 'ORIGIN', 'ADDRESSES'], vms.map((v) => vmRow(v, types)));
}

async function importVm(ctx: CliContext, opts: { cloud: string; server: string; vmType: string }): Promise<void> {
  const [cloud, vmType] = await Promise.all([ctx.cloud(opts.cloud), ctx.vmType(opts.vmType)]);
  const { cloudServers } = await ctx.client.request(CloudServersDocument, { cloudId: cloud.id });
  const matches = cloudServers.filter((s) => s.id === opts.server || s.name === opts.server);
  if (matches.length === 0) throw usage(`cloud ${cloud.name} has no server "${opts.server}" (see: intercloud clouds servers ${cloud.name})`);
  if (matches.length > 1) throw usage(`"${opts.server}" names ${matches.length} servers in ${cloud.name}; use the server id`);
  const { importVm: vm } = await ctx.client.request(ImportVmDocument, { input: { cloudId: cloud.id, serverId: matches[0].id, vmTypeId: vmType.id } });
  ctx.out.result(vm);
  ctx.out.line(`Imported ${vm.name} as VM ${vm.id} of ${vmType.name} in ${cloud.name}.`);
  ctx.out.table(['NAME', 'ID', 'CLOUD', 'VM TYPE', 'STATE', 'ORIGIN', 'ADDRESSES'], [vmRow(vm, new Map([[vmType.id, vmType.name]]))]);
}

async function vmTypes(ctx: CliContext): Promise<void> {
  const [{ vmTypes: types }, { vms }] = await Promise.all([ctx.client.request(VmTypesDocument), ctx.client.request(VmsDocument, {})]);
  ctx.out.result(types);
  ctx.out.table(
    ['NAME', 'ID', 'INSTANCES', 'MIN', 'MAX', 'THRESHOLDS', 'MONITORING', 'LOAD BALANCER'],
    types.map((t) => [
      t.name,
      t.id,
      vms.filter((v) => v.vmTypeId === t.id && v.state !== 'DELETED').length,
      t.minInstances,
      t.maxInstances,
      t.thresholds.map((h) => `${h.metric} (${h.role}${h.active ? '' : ', off'})`).join(', ') || null,
      t.monitoring?.hostName ?? null,
      t.loadBalancer ? `set ${t.loadBalancer.setId} ${t.loadBalancer.uriTemplate}` : null,
    ]),
  );
}

async function matchmake(ctx: CliContext, ref: string): Promise<void> {
  const vm = await ctx.vm(ref);
  const { matchmake: candidates } = await ctx.client.request(MatchmakeDocument, { vmId: vm.id });
  ctx.out.result(candidates);
  ctx.out.line(`Where a clone of ${vm.name} (${vm.cloud?.name ?? '?'}) would go:`);
  ctx.out.table(
    ['RANK', 'CLOUD', 'ELIGIBLE', 'HEALTH', 'TO CAPACITY', 'FREE', 'COST/H', 'REASONS'],
    candidates.map((c) => [
      c.rank ?? '-',
      c.cloud.name,
      c.eligible ? ctx.out.paint('yes', 'green') : ctx.out.paint('no', 'red'),
      c.cloud.health,
      seconds(c.estimatedSecondsToCapacity),
      c.freeInstances ?? 'unknown',
      c.costPerHour,
      c.reasons.join('; '),
    ]),
    { wrap: [7] },
  );
}

export function vmsCommand(): Command {
  const vms = new Command('vms').description('VMs the broker knows').addHelpText('after', '\nExample:\n  intercloud vms import --cloud home --server sip-1 --vm-type opensips\n  intercloud vms list --vm-type opensips\n  intercloud vms scale-down sip-1-clone-1e4f53 --watch\n');
  vms.addCommand(
    leaf(
      new Command('list').description('your VMs').option('--vm-type <type>', 'only of this VM type (name or id)').option('--cloud <cloud>', 'only in this cloud (name or id)'),
      'intercloud vms list --vm-type opensips',
    ).action(run(list)),
  );
  vms.addCommand(
    leaf(
      new Command('import')
        .description('adopt a running server of one of your clouds into a VM type')
        .requiredOption('--cloud <cloud>', 'your cloud (name or id)')
        .requiredOption('--server <server>', 'server name or id in that cloud (see: intercloud clouds servers CLOUD)')
        .requiredOption('--vm-type <type>', 'VM type it joins (name or id)'),
      'intercloud vms import --cloud home --server sip-1 --vm-type opensips',
    ).action(run(importVm)),
  );
  vms.addCommand(scaleDownVmCommand());
  return vms;
}

export function vmTypesCommand(): Command {
  const types = new Command('vm-types')
    .description('VM types under scaling control (create and change them with `intercloud apply`)')
    .addHelpText('after', '\nExample:\n  intercloud vm-types list\n  intercloud vm-types list --json | jq ".[] | {name, minInstances, maxInstances}"\n');
  types.addCommand(leaf(new Command('list').description('your VM types with instances, bounds and thresholds'), 'intercloud vm-types list').action(run(vmTypes)));
  return types;
}

export function matchmakeCommand(): Command {
  return leaf(
    new Command('matchmake').description("dry run of the matchmaker: every cloud a clone of VM could go to, ranked, with the estimate's terms and the reasons").argument('<vm>', 'VM name or id'),
    'intercloud matchmake sip-1',
  ).action(run(matchmake));
}
