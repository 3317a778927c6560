/**
 * LOAD_BALANCER: the clone becomes a destination of the SIP load balancer. The row is inserted
 * with parameterised SQL and tagged with the clone's VM id (so a retried step never adds it twice
 * and a scale-down finds it), the balancer reloaded, and the phase completes when the balancer
 * lists the destination as live. Undo removes the row and reloads.
 */
import { ClonePhase, PermanentStepError, StepErrorCode } from '../../domain/clone-phase';
import { renderDestination } from '../../domain/sip-bindings';
import { isLive } from '../../ports/sip-load-balancer.port';
import { CloneStep, pollUntil } from '../clone-step';
import { lbTag, rendered, SipStepDeps } from '../sip/sip-step.deps';
import { cloneTemplateValues } from './clone-values';

export function loadBalancerStep(sip: SipStepDeps): CloneStep {
  return {
    phase: ClonePhase.LOAD_BALANCER,
    applies: (ctx) => !!ctx.vmType?.loadBalancer,

    async run(ctx) {
      const access = await sip.bindings.loadBalancerAccess(ctx.vmType!);
      if (!access) return;
      const destination = rendered(() => renderDestination(access.binding, cloneTemplateValues(ctx)));
      const tag = lbTag(ctx.artefacts.cloneVmId ?? ctx.job.id);
      await sip.sipLoadBalancer.addDestination(access.connection, { ...destination, tag });
      await sip.sipLoadBalancer.reload(access.connection);
      await pollUntil(async () => (isLive(await sip.sipLoadBalancer.liveDestinations(access.connection), destination.setId, destination.uri) ? true : null), {
        what: `${destination.uri} to be live in load balancer ${access.loadBalancer.name}`,
        timeoutMs: sip.timeouts.registerMs,
        signal: ctx.signal,
      }).catch((err) => {
        if (err instanceof PermanentStepError && err.code === StepErrorCode.TIMEOUT) throw new PermanentStepError(StepErrorCode.LOAD_BALANCER_FAILED, err.message);
        throw err;
      });
      ctx.log.info({ uri: destination.uri, loadBalancerId: access.loadBalancer.id }, 'clone added to the load balancer');
    },

    async undo(ctx) {
      if (!ctx.vmType?.loadBalancer) return;
      const access = await sip.bindings.loadBalancerAccess(ctx.vmType);
      if (!access) return;
      await sip.sipLoadBalancer.removeDestination(access.connection, lbTag(ctx.artefacts.cloneVmId ?? ctx.job.id));
      await sip.sipLoadBalancer.reload(access.connection);
    },
  };
}
