/**
 * LB_REMOVE: the VM's destination leaves the SIP load balancer first (its rows out: the one the
 * broker tagged, and one the operator entered by hand for an imported VM, same set and URI; then
 * a reload), so no new call reaches it while it drains; the phase completes when the balancer no
 * longer lists it in that set. Undo (a drain that aborts) puts it back, tagged.
 */
import { ScaleDownPhase } from '../../../domain/scale-down';
import { renderDestination } from '../../../domain/sip-bindings';
import { isLive } from '../../../ports/sip-load-balancer.port';
import { pollUntil } from '../../clone-step';
import { lbTag, rendered, SipStepDeps } from '../../sip/sip-step.deps';
import { ScaleDownContext, ScaleDownStep } from '../scale-down-step';

export function lbRemoveStep(sip: SipStepDeps): ScaleDownStep {
  return {
    phase: ScaleDownPhase.LB_REMOVE,
    applies: (ctx) => !!ctx.vmType?.loadBalancer,

    async run(ctx) {
      const { access, destination } = await destinationOf(sip, ctx);
      if (!access || !destination) return;
      const { setId, uri } = destination;
      await sip.sipLoadBalancer.removeDestination(access.connection, lbTag(ctx.vm.id), { setId, uri });
      await sip.sipLoadBalancer.reload(access.connection);
      await pollUntil(async () => (!isLive(await sip.sipLoadBalancer.liveDestinations(access.connection), setId, uri) ? true : null), {
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
  if (!access || !ctx.vmType) return { access: null, destination: null };
  return { access, destination: rendered(() => renderDestination(access.binding, ctx.values)) };
}
