/** NETWORK: a floating IP from the cloud's floating network on the clone's port, when one is configured. */
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { FloatingIp } from '../../ports/cloud-api.port';
import { CloneContext, CloneStep, CloneStepDeps, PermanentStepError, pollUntil } from '../clone-step';

export function networkStep(deps: CloneStepDeps): CloneStep {
  return {
    phase: ClonePhase.NETWORK,
    applies: () => true,

    async run(ctx) {
      const api = ctx.target.api;
      const serverId = ctx.artefacts.serverId!;
      const wanted = ctx.target.cloud.defaults.floatingNetwork;
      if (!wanted) {
        ctx.log.info('no floating network configured for the target cloud; keeping fixed addresses');
        return;
      }
      const network = (await api.listNetworks()).find((n) => n.id === wanted || n.name === wanted);
      if (!network) throw new PermanentStepError(StepErrorCode.NO_NETWORK, `cloud ${ctx.target.cloud.name} has no floating network ${wanted}`);
      const [port] = await api.listPorts(serverId);
      if (!port) throw new PermanentStepError(StepErrorCode.NO_PORT, `server ${serverId} has no port in cloud ${ctx.target.cloud.name} to attach a floating IP to`);
      let [fip] = await api.listFloatingIps({ portId: port.id });
      fip ??= await api.createFloatingIp(network.id, port.id, jobTag(ctx));
      await ctx.checkpoint({ floatingIpId: fip.id });
      const address = fip.address;
      const server = await pollUntil(
        async () => {
          const s = await api.getServer(serverId);
          return s?.addresses.some((a) => a.address === address) ? s : null;
        },
        { what: `floating IP ${address} to show on server ${serverId}`, timeoutMs: deps.timeouts.floatingIpMs, signal: ctx.signal },
      );
      await ctx.checkpoint({ addresses: server.addresses });
    },

    /** The checkpointed floating IP, those on the server's ports, and any carrying the job's tag. */
    async undo(ctx) {
      const api = ctx.target.api;
      const ids = new Set((await api.listFloatingIps({ description: jobTag(ctx) })).map((f: FloatingIp) => f.id));
      if (ctx.artefacts.floatingIpId) ids.add(ctx.artefacts.floatingIpId);
      if (ctx.artefacts.serverId) {
        for (const port of await api.listPorts(ctx.artefacts.serverId)) {
          for (const fip of await api.listFloatingIps({ portId: port.id })) ids.add(fip.id);
        }
      }
      for (const id of ids) await api.deleteFloatingIp(id);
    },
  };
}

/** Neutron floating IPs have no metadata: the job's tag goes into their description. */
export function jobTag(ctx: Pick<CloneContext, 'job'>): string {
  return `intercloud_job=${ctx.job.id}`;
}
