/** `intercloud apply -f file.yaml [--dry-run]`: make VM types, thresholds and policies what the file says. */
import { Command } from 'commander';
import {
  CloudsDocument,
  CreatePolicyDocument,
  CreateVmTypeDocument,
  PoliciesDocument,
  SetThresholdsDocument,
  UpdatePolicyDocument,
  UpdateVmTypeDocument,
  VmTypesDocument,
} from '../../sdk';
import { Change, diffFields, diffThresholds, normalPolicy, normalVmType, parseDesired } from '../apply-plan';
import { leaf, run } from '../command';
import { CliContext } from '../context';
import { Exit, usage } from '../errors';
import { readYamlDocuments } from '../files';

const EXAMPLE = `intercloud apply -f opensips.yaml --dry-run

# opensips.yaml
vmTypes:
  - name: opensips
    minInstances: 1
    maxInstances: 4
    flavorHint: m1.small
    loadBalancer: { loadBalancerId: 6f1c..., setId: 1, drainMetric: active calls }
    thresholds:
      - { metric: active calls, active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: SCALE_UP, prepareOnWarning: true }
    policies:
      - { name: opensips-de, requiredLabels: { jurisdiction: DE }, denyClouds: [cheap-but-far] }
policies:
  - { name: no-expensive, maxCostPerHour: 1.5 }`;

const SIGN: Record<Change['action'], string> = { create: '+', update: '~', unchanged: '=', conflict: '!' };

async function apply(ctx: CliContext, opts: { file: string; dryRun?: boolean }): Promise<number> {
  const desired = parseDesired(readYamlDocuments(opts.file), opts.file);
  const [{ vmTypes }, { policies }, { clouds }] = await Promise.all([
    ctx.client.request(VmTypesDocument),
    ctx.client.request(PoliciesDocument, {}),
    ctx.client.request(CloudsDocument),
  ]);
  const cloudId = (ref: string, where: string) => {
    const own = clouds.filter((c) => (c.id === ref || c.name === ref) && c.owned);
    const any = clouds.filter((c) => c.id === ref || c.name === ref);
    const c = own.length === 1 ? own[0] : any.length === 1 ? any[0] : null;
    if (!c) throw usage(`${opts.file}: ${where} names cloud "${ref}", which ${any.length > 1 ? 'is ambiguous (use its id)' : 'you cannot see'}`);
    return c.id;
  };
  const changes: Change[] = [];
  const typeIds = new Map(vmTypes.map((t) => [t.name, t.id]));

  for (const want of desired.vmTypes) {
    const name = want.input.name;
    const have = vmTypes.find((t) => t.name === name);
    const diff = have ? diffFields(normalVmType(have), normalVmType(want.input)) : [];
    const action = !have ? 'create' : diff.length > 0 ? 'update' : 'unchanged';
    changes.push({ kind: 'vmType', name, action, diff });
    if (!opts.dryRun && action !== 'unchanged') {
      if (have) await ctx.client.request(UpdateVmTypeDocument, { id: have.id, input: want.input });
      else typeIds.set(name, (await ctx.client.request(CreateVmTypeDocument, { input: want.input })).createVmType.id);
    }
    if (want.thresholds) {
      const tdiff = diffThresholds(have?.thresholds ?? [], want.thresholds);
      const taction = tdiff.length === 0 ? 'unchanged' : have && have.thresholds.length > 0 ? 'update' : 'create';
      changes.push({ kind: 'thresholds', name, action: taction, diff: tdiff });
      if (!opts.dryRun && taction !== 'unchanged') await ctx.client.request(SetThresholdsDocument, { vmTypeId: typeIds.get(name)!, thresholds: want.thresholds });
    }
  }

  for (const want of desired.policies) {
    const where = `policy ${want.name}`;
    const vmTypeId = want.vmTypeName === null ? null : (typeIds.get(want.vmTypeName) ?? (opts.dryRun ? `(new VM type ${want.vmTypeName})` : null));
    const input = {
      name: want.name,
      vmTypeId,
      allowCloudIds: want.allowClouds.map((c) => cloudId(c, `${where}.allowClouds`)),
      denyCloudIds: want.denyClouds.map((c) => cloudId(c, `${where}.denyClouds`)),
      requiredLabels: want.requiredLabels,
      homeCloudOnly: want.homeCloudOnly,
      maxCostPerHour: want.maxCostPerHour,
      minBandwidthMbps: want.minBandwidthMbps,
    };
    const have = policies.find((p) => p.name === want.name);
    if (!have) {
      changes.push({ kind: 'policy', name: want.name, action: 'create', diff: [] });
      if (!opts.dryRun) await ctx.client.request(CreatePolicyDocument, { input });
      continue;
    }
    const diff = diffFields(normalPolicy(have), normalPolicy(input));
    changes.push({ kind: 'policy', name: want.name, action: diff.length === 0 ? 'unchanged' : 'update', diff });
    if (diff.length > 0 && !opts.dryRun) await ctx.client.request(UpdatePolicyDocument, { id: have.id, input });
  }

  const count = (a: Change['action']) => changes.filter((c) => c.action === a).length;
  ctx.out.result({ dryRun: !!opts.dryRun, changes });
  for (const c of changes) {
    const label = c.kind === 'thresholds' ? `thresholds of ${c.name}` : `${c.kind} ${c.name}`;
    const verb =
      c.action === 'conflict'
        ? 'differs from the file and cannot be changed to match it'
        : opts.dryRun
          ? { create: 'would be created', update: 'would be updated', unchanged: 'unchanged' }[c.action]
          : { create: 'created', update: 'updated', unchanged: 'unchanged' }[c.action];
    const paint = c.action === 'conflict' ? 'red' : c.action === 'unchanged' ? 'dim' : c.action === 'create' ? 'green' : 'yellow';
    ctx.out.line(ctx.out.paint(`${SIGN[c.action]} ${label}: ${verb}`, paint));
    for (const d of c.diff) ctx.out.line(`    ${d}`);
  }
  const summary = `${count('create')} to create, ${count('update')} to update, ${count('unchanged')} unchanged${count('conflict') ? `, ${count('conflict')} in conflict` : ''}`;
  ctx.out.line(opts.dryRun ? `Dry run: ${summary}; nothing was changed.` : `Applied: ${summary.replace('to create', 'created').replace('to update', 'updated')}.`);
  return count('conflict') > 0 ? Exit.FAILED : Exit.OK;
}

export function applyCommand(): Command {
  return leaf(
    new Command('apply')
      .description('make VM types (with bindings and thresholds) and policies what a YAML file says; what exists is updated, nothing is duplicated')
      .requiredOption('-f, --file <file>', 'YAML file (- for stdin)')
      .option('--dry-run', 'print the difference and change nothing'),
    EXAMPLE,
  ).action(run(apply));
}
