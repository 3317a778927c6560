/** `intercloud clone VM` and `intercloud jobs list | show | watch | cancel`. */
import { Command, Option } from 'commander';
import { CancelCloneJobDocument, CloneJobDocument, CloneJobsDocument, CloneJobState, CloneVmDocument } from '../../sdk';
import { leaf, run } from '../command';
import { CliContext } from '../context';
import { usage } from '../errors';
import { bytes, duration, percent, time } from '../format';
import { phaseRows, watchJob } from '../watch-job';

const STATES: CloneJobState[] = ['QUEUED', 'RUNNING', 'FAILING', 'CANCELLING', 'DONE', 'FAILED', 'CANCELLED'];

interface CloneOptions {
  to?: string;
  key?: string;
  name?: string;
  watch?: boolean;
  cancelOnInterrupt?: boolean;
}

async function clone(ctx: CliContext, ref: string, opts: CloneOptions): Promise<number | void> {
  const vm = await ctx.vm(ref);
  const targetCloudId = opts.to ? (await ctx.cloud(opts.to)).id : undefined;
  const { cloneVm: job } = await ctx.client.request(CloneVmDocument, { input: { vmId: vm.id, targetCloudId, idempotencyKey: opts.key, name: opts.name } });
  if (!opts.watch) {
    ctx.out.result(job);
    ctx.out.line(`Clone job ${job.id} ${job.state}: ${vm.name} -> ${job.targetCloud?.name ?? '?'} as ${job.name}.`);
    ctx.out.line(`Watch it: intercloud jobs watch ${job.id}`);
    return;
  }
  return watchJob(ctx, job.id, { cancelOnInterrupt: opts.cancelOnInterrupt });
}

async function list(ctx: CliContext, opts: { state?: CloneJobState; first: string }): Promise<void> {
  const first = Number(opts.first);
  if (!Number.isInteger(first) || first < 1 || first > 500) throw usage('--first must be a whole number from 1 to 500');
  const { cloneJobs } = await ctx.client.request(CloneJobsDocument, { state: opts.state, first });
  ctx.out.result(cloneJobs);
  ctx.out.table(
    ['ID', 'NAME', 'STATE', 'PHASE', 'FROM', 'TO', 'BYTES', 'CREATED'],
    cloneJobs.nodes.map((j) => [
      j.id,
      j.name,
      j.state,
      j.phase,
      j.sourceVm?.name,
      j.targetCloud?.name,
      j.bytesTotal ? `${bytes(j.bytesTransferred)} (${percent(j.bytesTransferred, j.bytesTotal)})` : null,
      time(j.createdAt),
    ]),
  );
  if (cloneJobs.pageInfo.hasNextPage) ctx.out.line(`${cloneJobs.nodes.length} of ${cloneJobs.totalCount} shown (--first N for more).`);
}

async function show(ctx: CliContext, id: string): Promise<void> {
  const { cloneJob: job } = await ctx.client.request(CloneJobDocument, { id });
  if (!job) throw usage(`no clone job ${id}`);
  ctx.out.result(job);
  ctx.out.fields([
    ['id', job.id],
    ['name', job.name],
    ['purpose', job.purpose],
    ['state', job.state],
    ['phase', job.phase],
    ['source', `${job.sourceVm?.name ?? '?'} in ${job.sourceCloud?.name ?? '?'}`],
    ['target', job.targetCloud?.name],
    ['placed by', job.placement ? `the matchmaker at ${time(job.placement.decidedAt)}: ${job.placement.chosenCloudName} of ${job.placement.candidates.length} clouds` : 'the request (it named the target)'],
    ['boots from', job.standbyImage && job.purpose === 'CLONE' ? `standby image ${job.standbyImage.imageId} (SNAPSHOT, TRANSFER and IMPORT skipped)` : null],
    ['transferred', job.bytesTotal ? `${bytes(job.bytesTransferred)} of ${bytes(job.bytesTotal)}` : bytes(job.bytesTransferred)],
    ['idempotency key', job.idempotencyKey],
    ['created', time(job.createdAt)],
    ['finished', time(job.finishedAt)],
    ['took', job.finishedAt ? duration(Date.parse(job.finishedAt) - Date.parse(job.createdAt)) : null],
    ['result VM', job.resultVm ? `${job.resultVm.name} (${job.resultVm.id})` : null],
    ['error', job.error ? `${job.error.code}: ${job.error.message}` : null],
  ]);
  if (job.phases.length > 0) ctx.out.table(['PHASE', 'DURATION'], phaseRows(job));
  if (job.placement) {
    ctx.out.table(
      ['RANK', 'CLOUD', 'ESTIMATE', 'WHY'],
      job.placement.candidates.map((c) => [c.rank === null ? 'excluded' : String(c.rank), c.cloudName, c.eligible ? duration(c.estimatedSecondsToCapacity * 1000) : null, c.reasons.join('; ')]),
    );
  }
}

async function cancel(ctx: CliContext, id: string): Promise<void> {
  const { cancelCloneJob: job } = await ctx.client.request(CancelCloneJobDocument, { id });
  ctx.out.result(job);
  ctx.out.line(`Clone job ${job.id} is ${job.state}${job.state === 'CANCELLING' ? ': it stops at its next safe point and undoes what it made' : ''}.`);
}

export function cloneCommand(): Command {
  return leaf(
    new Command('clone')
      .description('clone a VM into a cloud (or where the matchmaker ranks best); exit 0 on DONE, 1 on FAILED or CANCELLED')
      .argument('<vm>', 'VM name or id')
      .option('--to <cloud>', 'target cloud (name or id); default: the matchmaker picks')
      .option('--key <key>', 'idempotency key: the same key returns the same job')
      .option('--name <name>', 'server name of the clone')
      .option('--watch', 'follow the job to its end: phases, transfer progress, phase durations')
      .option('--cancel-on-interrupt', 'with --watch: Ctrl-C cancels the job instead of detaching'),
    'intercloud clone sip-1 --to partner-b --key peak-2026-11-26 --watch',
  ).action(run(clone));
}

export function jobsCommand(): Command {
  const jobs = new Command('jobs').description('clone jobs').addHelpText('after', '\nExample:\n  intercloud jobs list --state RUNNING\n  intercloud jobs watch 6f0c...\n');
  jobs.addCommand(
    leaf(
      new Command('list')
        .description('clone jobs of your tenant, newest first')
        .addOption(new Option('--state <state>', 'only jobs in this state').choices(STATES))
        .option('--first <n>', 'how many', '20'),
      'intercloud jobs list --state FAILED --first 5',
    ).action(run(list)),
  );
  jobs.addCommand(leaf(new Command('show').description('one job with its phases and error').argument('<job>', 'job id'), 'intercloud jobs show 6f0c...').action(run(show)));
  jobs.addCommand(
    leaf(
      new Command('watch')
        .description('follow a job to its end (replays what happened so far); exit 0 on DONE, 1 on FAILED or CANCELLED')
        .argument('<job>', 'job id')
        .option('--cancel-on-interrupt', 'Ctrl-C cancels the job instead of detaching'),
      'intercloud jobs watch 6f0c... --json | jq -c .event.kind',
    ).action(run((ctx: CliContext, id: string, opts: { cancelOnInterrupt?: boolean }) => watchJob(ctx, id, opts))),
  );
  jobs.addCommand(leaf(new Command('cancel').description('cancel a job: it stops at its next safe point and undoes what it made').argument('<job>', 'job id'), 'intercloud jobs cancel 6f0c...').action(run(cancel)));
  return jobs;
}
