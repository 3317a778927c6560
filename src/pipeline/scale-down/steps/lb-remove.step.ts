/**
 * LB_REMOVE: the VM's destination leaves the SIP load balancer first (row out by its tag,
 * reload), so no new call reaches it while it drains; the phase completes when the balancer no
 * longer lists it. Undo (a drain that aborts) puts it back.
 */
import { ScaleDownPhase } from '../../../domain/scale-down';
import { renderDestination } from '../../../domain/sip-bindings';
import { pollUntil } from '../../clone-step';
import { lbTag, rendered, SipStepDeps } from '../../sip/sip-step.deps';
import { ScaleDownContext, ScaleDownStep } from '../scale-down-step';

export function lbRemoveStep(sip: SipStepDeps): ScaleDownStep {
  return {
    phase: ScaleDownPhase.LB_REMOVE,
    applies: (ctx) => !!ctx.vmType?.loadBalancer,

    async run(ctx) {
      const { access, uri } = await destinationOf(sip, ctx);
      if (!access) return;
      await sip.sipLoadBalancer.removeDestination(access.connection, lbTag(ctx.vm.id));
      await sip.sipLoadBalancer.reload(access.connection);
      await pollUntil(async () => (!(await sip.sipLoadBalancer.liveDestinations(access.connection)).includes(uri) ? true : null), {
        what: `${uri} to leave load balancer ${access.loadBalancer.name}`,
        timeoutMs: sip.timeouts.registerMs,
        signal: ctx.signal,
      });
      ctx.log.info({ uri }, 'VM removed from the load balancer');
    },

    /** Puts the destination back (the drain gave up): the VM takes calls again. */
    async undo(ctx) {
      const { access, destination } = await destinationOf(sip, ctx);
      if (!access || !destination) return;
      await sip.sipLoadBalancer.addDestination(access.connection, { ...destination, tag: lbTag(ctx.vm.id) });
      await sip.sipLoadBalancer.reload(access.connection);
    },
  };
}

async function destinationOf(sip: SipStepDeps, ctx: ScaleDownContext) {
  const access = ctx.vmType ? await sip.bindings.loadBalancerAccess(ctx.vmType) : null;
  if (!access || !ctx.vmType) return { access: null, uri: '', destination: null };
  const destination = rendered(() => renderDestination(access.binding, ctx.values));
  return { access, uri: destination.uri, destination };
}
