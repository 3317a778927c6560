/** `intercloud standby prepare T --cloud C [--keep-fresh] | list | release S`: standby images of VM types. */
import { Command } from 'commander';
import { PrepareStandbyDocument, ReleaseStandbyDocument, StandbyImagesDocument } from '../../sdk';
import { leaf, run } from '../command';
import { CliContext } from '../context';
import { usage } from '../errors';
import { duration, seconds, time } from '../format';

async function prepare(ctx: CliContext, typeRef: string, opts: { cloud: string; keepFresh?: boolean }): Promise<void> {
  const vmType = await ctx.vmType(typeRef);
  const cloud = await ctx.cloud(opts.cloud);
  const { prepareStandby: job } = await ctx.client.request(PrepareStandbyDocument, { vmTypeId: vmType.id, cloudId: cloud.id, keepFresh: opts.keepFresh ?? false });
  ctx.out.result(job);
  ctx.out.line(`Standby job ${job.id} ${job.state}: ${vmType.name} -> ${cloud.name}${opts.keepFresh ? ', kept fresh' : ''}.`);
  if (job.state !== 'DONE') ctx.out.line(`Watch it: intercloud jobs watch ${job.id}`);
}

async function list(ctx: CliContext, opts: { vmType?: string; cloud?: string; all?: boolean; first: string }): Promise<void> {
  const first = Number(opts.first);
  if (!Number.isInteger(first) || first < 1 || first > 500) throw usage('--first must be a whole number from 1 to 500');
  const vmTypeId = opts.vmType ? (await ctx.vmType(opts.vmType)).id : undefined;
  const cloudId = opts.cloud ? (await ctx.cloud(opts.cloud)).id : undefined;
  const { standbyImages } = await ctx.client.request(StandbyImagesDocument, { vmTypeId, cloudId, includeExpired: opts.all ?? false, first });
  ctx.out.result(standbyImages);
  if (standbyImages.length === 0) return ctx.out.line(opts.all ? 'No standby images.' : 'No fresh standby images (--all shows expired and deleted ones).');
  const now = Date.now();
  ctx.out.table(
    ['ID', 'VM TYPE', 'CLOUD', 'STATE', 'AGE', 'EXPIRES', 'IN', 'KEPT FRESH', 'IMAGE'],
    standbyImages.map((s) => [
      s.id,
      s.vmType?.name ?? s.vmTypeId,
      s.cloud?.name ?? s.cloudId,
      s.state,
      seconds(s.ageSeconds),
      time(s.expiresAt),
      s.state === 'FRESH' ? duration(Date.parse(s.expiresAt) - now) : '-',
      s.keepFresh ? `yes (refresh ${time(s.refreshAt)})` : 'no',
      s.imageId,
    ]),
  );
}

async function release(ctx: CliContext, id: string): Promise<void> {
  const { releaseStandby: s } = await ctx.client.request(ReleaseStandbyDocument, { id });
  ctx.out.result(s);
  ctx.out.line(
    s.state === 'DELETED'
      ? `Standby ${s.id} released: image ${s.imageId} deleted from ${s.cloud?.name ?? s.cloudId}.`
      : `Standby ${s.id} released: expired; image ${s.imageId} is deleted once no running clone boots from it.`,
  );
}

export function standbyCommand(): Command {
  const standby = new Command('standby')
    .description('standby images: a VM type\'s image kept ready in a cloud, so a clone there skips SNAPSHOT, TRANSFER and IMPORT')
    .addHelpText('after', '\nExample:\n  intercloud standby prepare opensips --cloud partner-b --keep-fresh\n  intercloud standby list --all\n');
  standby.addCommand(
    leaf(
      new Command('prepare')
        .description('prepare a standby image of a VM type in a cloud (returns the job; one that exists or is under way is returned instead)')
        .argument('<vm-type>', 'VM type name or id')
        .requiredOption('--cloud <cloud>', 'cloud to keep it in (name or id)')
        .option('--keep-fresh', 'the leader prepares a successor before it expires, until released'),
      'intercloud standby prepare opensips --cloud partner-b --keep-fresh',
    ).action(run(prepare)),
  );
  standby.addCommand(
    leaf(
      new Command('list')
        .description('standby images of your tenant, newest first, with age and expiry')
        .option('--vm-type <type>', 'only of this VM type (name or id)')
        .option('--cloud <cloud>', 'only in this cloud (name or id)')
        .option('--all', 'also expired and deleted ones')
        .option('--first <n>', 'how many', '50'),
      'intercloud standby list --vm-type opensips',
    ).action(run(list)),
  );
  standby.addCommand(
    leaf(new Command('release').description('stop keeping a standby fresh and delete its image now').argument('<standby>', 'standby id'), 'intercloud standby release 6f0c...').action(
      run(release),
    ),
  );
  return standby;
}
