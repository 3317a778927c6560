/** NETWORK: a floating IP from the cloud's floating network on the clone's port, when one is configured. */
import { ClonePhase } from '../../domain/clone-phase';
import { CloneStep, PermanentStepError, pollUntil } from '../clone-step';

export const networkStep: CloneStep = {
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
    if (!network) throw new PermanentStepError('NO_NETWORK', `cloud ${ctx.target.cloud.name} has no floating network ${wanted}`);
    const [port] = await api.listPorts(serverId);
    if (!port) throw new PermanentStepError('NO_PORT', `server ${serverId} has no port in cloud ${ctx.target.cloud.name} to attach a floating IP to`);
    let [fip] = await api.listFloatingIps({ portId: port.id });
    if (!fip) fip = await api.createFloatingIp(network.id, port.id);
    await ctx.checkpoint({ floatingIpId: fip.id });
    const server = await pollUntil(
      async () => {
        const s = await api.getServer(serverId);
        return s?.addresses.some((a) => a.address === fip.address) ? s : null;
      },
      { what: `floating IP ${fip.address} to show on server ${serverId}`, timeoutMs: 120_000, signal: ctx.signal },
    );
    await ctx.checkpoint({ addresses: server.addresses });
  },

  async undo(ctx) {
    const api = ctx.target.api;
    if (ctx.artefacts.floatingIpId) {
      await api.deleteFloatingIp(ctx.artefacts.floatingIpId);
      return;
    }
    if (!ctx.artefacts.serverId) return;
    for (const port of await api.listPorts(ctx.artefacts.serverId)) {
      for (const fip of await api.listFloatingIps({ portId: port.id })) await api.deleteFloatingIp(fip.id);
    }
  },
};
