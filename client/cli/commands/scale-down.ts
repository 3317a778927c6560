/** `intercloud vms scale-down VM` and `intercloud scale-down-jobs list | show | watch`. */
import { Command } from 'commander';
import { ScaleDownJobDocument, ScaleDownJobsDocument, ScaleDownVmDocument } from '../../sdk';
import { leaf, run } from '../command';
import { CliContext } from '../context';
import { usage } from '../errors';
import { duration, time } from '../format';
import { scaleDownPhaseRows, vmLabel, watchScaleDownJob } from '../watch-scale-down';

async function scaleDown(ctx: CliContext, ref: string, opts: { watch?: boolean }): Promise<number | void> {
  const vm = await ctx.vm(ref);
  const { scaleDownVm: job } = await ctx.client.request(ScaleDownVmDocument, { vmId: vm.id });
  if (opts.watch) return watchScaleDownJob(ctx, job.id);
  ctx.out.result(job);
  ctx.out.line(`Scale-down job ${job.id} ${job.state}: ${vm.name} leaves ${vm.cloud?.name ?? '?'} (LB_REMOVE -> DRAIN -> DELETE -> UNMONITOR).`);
  ctx.out.line(`Watch it: intercloud scale-down-jobs watch ${job.id}`);
}

async function list(ctx: CliContext, opts: { vm?: string; first: string }): Promise<void> {
  const first = Number(opts.first);
  if (!Number.isInteger(first) || first < 1 || first > 500) throw usage('--first must be a whole number from 1 to 500');
  const vmId = opts.vm ? (await ctx.vm(opts.vm)).id : undefined;
  const { scaleDownJobs } = await ctx.client.request(ScaleDownJobsDocument, { vmId, first });
  ctx.out.result(scaleDownJobs);
  ctx.out.table(
    ['ID', 'VM', 'STATE', 'PHASE', 'CREATED', 'TOOK', 'ERROR'],
    scaleDownJobs.map((j) => [
      j.id,
      j.vm?.name,
      j.state,
      j.phase,
      time(j.createdAt),
      j.finishedAt ? duration(Date.parse(j.finishedAt) - Date.parse(j.createdAt)) : null,
      j.error ? `${j.error.code}: ${j.error.message}` : null,
    ]),
    { wrap: [6] },
  );
}

async function show(ctx: CliContext, id: string): Promise<void> {
  const { scaleDownJob: job } = await ctx.client.request(ScaleDownJobDocument, { id });
  if (!job) throw usage(`no scale-down job ${id}`);
  ctx.out.result(job);
  ctx.out.fields([
    ['id', job.id],
    ['vm', vmLabel(job)],
    ['vm state', job.vm?.state],
    ['state', job.state],
    ['phase', job.phase],
    ['reason', job.reason],
    ['created', time(job.createdAt)],
    ['finished', time(job.finishedAt)],
    ['took', job.finishedAt ? duration(Date.parse(job.finishedAt) - Date.parse(job.createdAt)) : null],
    ['error', job.error ? `${job.error.code}: ${job.error.message}` : null],
  ]);
  if (job.phases.length > 0) ctx.out.table(['PHASE', 'DURATION'], scaleDownPhaseRows(job));
}

export function scaleDownVmCommand(): Command {
  return leaf(
    new Command('scale-down')
      .description('remove a VM: out of the load balancer, drained, deleted, out of monitoring; with --watch exit 0 on DONE, 1 on FAILED or CANCELLED')
      .argument('<vm>', 'VM name or id')
      .option('--watch', 'follow the job to its end: phases, drain readings, phase durations'),
    'intercloud vms scale-down sip-1-clone-1e4f53 --watch',
  ).action(run(scaleDown));
}

export function scaleDownJobsCommand(): Command {
  const jobs = new Command('scale-down-jobs')
    .description('scale-down jobs (start one with `intercloud vms scale-down VM`)')
    .addHelpText('after', '\nExample:\n  intercloud scale-down-jobs list --vm sip-1-clone-1e4f53\n  intercloud scale-down-jobs watch 3b1e...\n');
  jobs.addCommand(
    leaf(
      new Command('list').description('scale-down jobs of your tenant, newest first').option('--vm <vm>', 'only of this VM (name or id)').option('--first <n>', 'how many', '20'),
      'intercloud scale-down-jobs list --first 5',
    ).action(run(list)),
  );
  jobs.addCommand(leaf(new Command('show').description('one job with its phases and error').argument('<job>', 'job id'), 'intercloud scale-down-jobs show 3b1e...').action(run(show)));
  jobs.addCommand(
    leaf(
      new Command('watch').description('follow a job to its end (replays what happened so far); exit 0 on DONE, 1 on FAILED or CANCELLED').argument('<job>', 'job id'),
      'intercloud scale-down-jobs watch 3b1e... --json | jq -c .event.kind',
    ).action(run((ctx: CliContext, id: string) => watchScaleDownJob(ctx, id))),
  );
  return jobs;
}
