/**
 * DELETE: the VM's server and its floating IPs go, and the step waits until Nova has really
 * removed the server (so its quota is free). Nothing to undo: a deleted server cannot come back,
 * which is why DELETE comes after the VM has left the load balancer and drained.
 */
import { ScaleDownPhase } from '../../../domain/scale-down';
import { pollUntil } from '../../clone-step';
import { ScaleDownStep, ScaleDownStepDeps } from '../scale-down-step';

export function deleteStep(deps: ScaleDownStepDeps): ScaleDownStep {
  return {
    phase: ScaleDownPhase.DELETE,
    applies: () => true,

    async run(ctx) {
      const { api, vm } = ctx;
      // Floating IPs first: deleting the server only disassociates them, and they would stay allocated.
      const ids = new Set(ctx.artefacts.floatingIpIds ?? []);
      for (const port of await api.listPorts(vm.serverId)) {
        for (const fip of await api.listFloatingIps({ portId: port.id })) ids.add(fip.id);
      }
      await ctx.checkpoint({ floatingIpIds: [...ids] });
      for (const id of ids) await api.deleteFloatingIp(id);
      await api.deleteServer(vm.serverId);
      await pollUntil(async () => ((await api.getServer(vm.serverId)) ? null : true), {
        what: `server ${vm.serverId} to be deleted in cloud ${ctx.cloud.name}`,
        timeoutMs: deps.timeouts.deleteMs,
        signal: ctx.signal,
      });
      await ctx.checkpoint({ serverDeleted: true });
      ctx.log.info({ serverId: vm.serverId, floatingIps: ids.size }, 'server deleted');
    },
  };
}
