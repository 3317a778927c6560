/**
 * DRAIN: calls in progress end before the VM is deleted. The VM type's drain metric (e.g.
 * active calls, from Nagios or recordSamples) must read zero in a sample observed after the
 * drain began; when `drainTimeoutSeconds` passes first, the binding's action decides: proceed
 * anyway (FORCE_REMOVE), or give up the removal (ABORT: the job fails with DRAIN_TIMEOUT and its
 * undo puts the VM back into the load balancer).
 */
import { PermanentStepError, StepErrorCode } from '../../../domain/clone-phase';
import { DrainAction } from '../../../domain/enums';
import { sleep } from '../../../domain/retry';
import { ScaleDownPhase } from '../../../domain/scale-down';
import { SipStepDeps } from '../../sip/sip-step.deps';
import { ScaleDownStep } from '../scale-down-step';

interface Reading {
  value: number | null;
  state: string;
  observed_at: Date;
}

export function drainStep(sip: SipStepDeps): ScaleDownStep {
  return {
    phase: ScaleDownPhase.DRAIN,
    applies: (ctx) => !!ctx.vmType?.loadBalancer?.drainMetric,

    async run(ctx) {
      const binding = ctx.vmType!.loadBalancer!;
      const metric = binding.drainMetric!;
      if (!ctx.artefacts.drainStartedAt) await ctx.checkpoint({ drainStartedAt: new Date().toISOString() });
      const since = new Date(ctx.artefacts.drainStartedAt!);
      const deadline = since.getTime() + binding.drainTimeoutSeconds * 1000;
      for (;;) {
        const [latest] = (await sip.dataSource.query(
          `SELECT value, state, observed_at FROM samples WHERE vm_id = $1 AND metric = $2 AND observed_at > $3 ORDER BY observed_at DESC LIMIT 1`,
          [ctx.vm.id, metric, since],
        )) as Reading[];
        // The first reading and each change is an event, so a watcher sees the calls go down (or not).
        if (latest && (!ctx.artefacts.drainObservedAt || latest.value !== ctx.artefacts.drainValue)) {
          await ctx.drainReading(latest.value, latest.observed_at.toISOString(), `${metric} reads ${latest.value ?? latest.state}`);
        }
        if (latest && latest.value !== null && latest.value <= 0) {
          ctx.log.info({ metric }, 'VM drained');
          return;
        }
        if (Date.now() > deadline) {
          const last = latest ? `${metric} still read ${latest.value ?? latest.state}` : `no sample of ${metric} arrived`;
          if (binding.drainAction === DrainAction.ABORT) {
            throw new PermanentStepError(StepErrorCode.DRAIN_TIMEOUT, `not drained within ${binding.drainTimeoutSeconds} s (${last}); the removal was given up and the VM put back`);
          }
          ctx.log.warn({ metric, last }, 'drain timed out; removing the VM anyway (FORCE_REMOVE)');
          return;
        }
        await sleep(sip.timeouts.pollMs, ctx.signal);
      }
    },
  };
}
