/** `intercloud decisions watch | list` and `intercloud samples VM METRIC`. */
import * as asciichart from 'asciichart';
import { Command } from 'commander';
import { DecisionFieldsFragment, SamplesDocument, ScalingDecisionsDocument, VmTypesDocument } from '../../sdk';
import { leaf, run } from '../command';
import { CliContext } from '../context';
import { Exit, usage } from '../errors';
import { parseDuration, time } from '../format';

const STATE_LEVEL: Record<string, number> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: -1 };

function decisionLine(ctx: CliContext, d: DecisionFieldsFragment, types: Map<string, string>): string {
  const colour = d.action === 'SCALE_UP' ? 'yellow' : d.action === 'SCALE_DOWN' ? 'cyan' : 'dim';
  return `${time(d.decidedAt)}  ${ctx.out.paint(d.action.padEnd(15), colour)} ${types.get(d.vmTypeId) ?? d.vmTypeId}${d.metric ? ` [${d.metric}]` : ''}: ${d.reason}${d.cloneJobId ? ` (clone job ${d.cloneJobId})` : ''}`;
}

async function typeNames(ctx: CliContext): Promise<Map<string, string>> {
  return new Map((await ctx.client.request(VmTypesDocument)).vmTypes.map((t) => [t.id, t.name]));
}

async function list(ctx: CliContext, opts: { vmType?: string; first: string }): Promise<void> {
  const vmTypeId = opts.vmType ? (await ctx.vmType(opts.vmType)).id : undefined;
  const { scalingDecisions } = await ctx.client.request(ScalingDecisionsDocument, { vmTypeId, first: Number(opts.first) });
  ctx.out.result(scalingDecisions);
  const types = await typeNames(ctx);
  if (scalingDecisions.length === 0) ctx.out.line('No scaling decisions yet.');
  for (const d of [...scalingDecisions].reverse()) ctx.out.line(decisionLine(ctx, d, types));
}

async function watch(ctx: CliContext, opts: { vmType?: string; afterSeq?: string }): Promise<number> {
  const vmTypeId = opts.vmType ? (await ctx.vmType(opts.vmType)).id : undefined;
  const afterSeq = opts.afterSeq === undefined ? undefined : Number(opts.afterSeq);
  if (afterSeq !== undefined && !(Number.isInteger(afterSeq) && afterSeq >= 0)) throw usage('--after-seq must be a whole number, 0 or more');
  const types = await typeNames(ctx);
  ctx.out.note(`Watching scaling decisions${opts.vmType ? ` of ${opts.vmType}` : ''} (Ctrl-C to stop)...`);
  return new Promise<number>((resolve, reject) => {
    const stop = ctx.client.scalingDecisions(
      {
        next: (d) => {
          ctx.out.record(d);
          ctx.out.line(decisionLine(ctx, d, types));
        },
        error: (err) => {
          process.off('SIGINT', onSigint);
          reject(err);
        },
        complete: () => {
          process.off('SIGINT', onSigint);
          resolve(Exit.OK);
        },
        onResubscribed: (replayed) =>
          ctx.out.note(replayed ? 'reconnected; resumed after the last decision shown' : 'reconnected before the first decision; any made meanwhile are not replayed (see: intercloud decisions list)'),
      },
      { vmTypeId, afterSeq },
    );
    const onSigint = () => {
      stop();
      resolve(Exit.OK);
    };
    process.once('SIGINT', onSigint);
  });
}

async function samples(ctx: CliContext, vmRef: string, metric: string, opts: { since: string; height: string }): Promise<void> {
  const ms = parseDuration(opts.since);
  if (ms === null) throw usage(`--since must be a duration like 30m, 1h or 2d, not "${opts.since}"`);
  const vm = await ctx.vm(vmRef);
  const { samples: list } = await ctx.client.request(SamplesDocument, { vmId: vm.id, metric, since: new Date(Date.now() - ms).toISOString(), first: 500 });
  ctx.out.result(list);
  if (list.length === 0) return ctx.out.line(`No samples of "${metric}" for ${vm.name} in the last ${opts.since}.`);
  const ordered = [...list].reverse(); // the API answers newest first
  const withValues = ordered.every((s) => s.value !== null);
  const series = ordered.map((s) => (withValues ? (s.value as number) : STATE_LEVEL[s.state]));
  const height = Math.max(3, Number(opts.height) || 10);
  ctx.out.line(`${metric} of ${vm.name}, ${time(ordered[0].observedAt)} .. ${time(ordered.at(-1)!.observedAt)} (${list.length} samples${withValues ? '' : '; state: -1 UNKNOWN, 0 OK, 1 WARNING, 2 CRITICAL'})`);
  const width = Math.max(20, (process.stdout.columns ?? 100) - 15);
  const step = Math.max(1, Math.ceil(series.length / width));
  const plotted = series.filter((_, i) => i % step === 0);
  ctx.out.line(asciichart.plot(plotted, { height, format: (x: number) => x.toFixed(withValues ? 1 : 0).padStart(8) }));
  const counts = Object.entries(ordered.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.state]: (acc[s.state] ?? 0) + 1 }), {}));
  ctx.out.line(`states: ${counts.map(([s, n]) => `${s} ${n}`).join(', ')}; latest ${ordered.at(-1)!.state}${ordered.at(-1)!.value !== null ? ` ${ordered.at(-1)!.value}` : ''}`);
}

export function decisionsCommand(): Command {
  const decisions = new Command('decisions')
    .description("the scheduler's scaling decisions and why")
    .addHelpText('after', '\nExample:\n  intercloud decisions watch --vm-type opensips\n  intercloud decisions list --first 5 --json\n');
  decisions.addCommand(
    leaf(
      new Command('watch')
        .description('print decisions as they are made (one JSON object per line with --json); a reconnect resumes after the last one shown')
        .option('--vm-type <type>', 'only of this VM type (name or id)')
        .option('--after-seq <seq>', 'first replay the stored decisions after this seq (0: all kept), then go on live'),
      'intercloud decisions watch --vm-type opensips --after-seq 0',
    ).action(
      run(watch),
    ),
  );
  decisions.addCommand(
    leaf(new Command('list').description('recent decisions, oldest first').option('--vm-type <type>', 'only of this VM type (name or id)').option('--first <n>', 'how many of the latest', '20'), 'intercloud decisions list --first 5').action(
      run(list),
    ),
  );
  return decisions;
}

export function samplesCommand(): Command {
  return leaf(
    new Command('samples')
      .description('monitoring samples of one metric of one VM, as a terminal chart (values, or states when the source gives none)')
      .argument('<vm>', 'VM name or id')
      .argument('<metric>', 'metric name, e.g. "active calls"')
      .option('--since <duration>', 'how far back: 30m, 1h, 2d', '1h')
      .option('--height <rows>', 'chart height', '10'),
    'intercloud samples sip-1 "active calls" --since 6h',
  ).action(run(samples));
}
