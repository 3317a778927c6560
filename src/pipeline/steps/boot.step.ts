/** BOOT: create the clone server in the target cloud from the transferred image (or the snapshot). */
import { ClonePhase } from '../../domain/clone-phase';
import { Server } from '../../ports/cloud-api.port';
import { CloneContext, CloneStep, PermanentStepError, pollUntil } from '../clone-step';

export const bootStep: CloneStep = {
  phase: ClonePhase.BOOT,
  applies: () => true,

  async run(ctx) {
    const api = ctx.target.api;
    let server = await findServer(ctx);
    if (server?.status === 'ERROR') {
      throw new PermanentStepError('BOOT_FAILED', `server ${server.id} went to ERROR in cloud ${ctx.target.cloud.name}`);
    }
    if (!server) {
      const imageId = ctx.intraCloud ? ctx.artefacts.snapshotImageId! : ctx.artefacts.targetImageId!;
      server = await api.createServer({
        name: ctx.job.name,
        imageId,
        flavorId: await resolveFlavor(ctx),
        networks: await resolveNetworks(ctx),
        availabilityZone: ctx.target.cloud.defaults.availabilityZone,
        metadata: { ...ctx.tags },
      });
      await ctx.checkpoint({ serverId: server.id });
    }
    const id = server.id;
    const active = await pollUntil(
      async () => {
        const s = await api.getServer(id);
        if (!s || s.status === 'ERROR' || s.status === 'DELETED') {
          throw new PermanentStepError('BOOT_FAILED', `server ${id} is ${s?.status ?? 'gone'} in cloud ${ctx.target.cloud.name}`);
        }
        return s.status === 'ACTIVE' ? s : null;
      },
      { what: `server ${id} to become ACTIVE in cloud ${ctx.target.cloud.name}`, timeoutMs: 15 * 60_000, signal: ctx.signal },
    );
    await ctx.checkpoint({ serverId: active.id, addresses: active.addresses });
    ctx.log.info({ serverId: active.id }, 'clone server active');
  },

  /** Deletes the server and waits until Nova has really removed it (so its quota is free again). */
  async undo(ctx) {
    const server = await findServer(ctx);
    if (!server) return;
    await ctx.target.api.deleteServer(server.id);
    await pollUntil(async () => ((await ctx.target.api.getServer(server.id)) ? null : true), {
      what: `server ${server.id} to be deleted in cloud ${ctx.target.cloud.name}`,
      timeoutMs: 5 * 60_000,
      signal: AbortSignal.timeout(5 * 60_000),
    });
  },
};

async function findServer(ctx: CloneContext): Promise<Server | null> {
  if (ctx.artefacts.serverId) return ctx.target.api.getServer(ctx.artefacts.serverId);
  const named = await ctx.target.api.listServers({ name: ctx.job.name });
  return named.find((s) => s.metadata.intercloud_job === ctx.job.id) ?? null;
}

/** VM type hint, then the cloud's default, then (within a cloud) the source server's flavor. */
async function resolveFlavor(ctx: CloneContext): Promise<string> {
  const flavors = await ctx.target.api.listFlavors();
  const wanted = [ctx.vmType?.flavorHint, ctx.target.cloud.defaults.flavor].filter((x): x is string => !!x);
  for (const w of wanted) {
    const f = flavors.find((fl) => fl.id === w || fl.name === w);
    if (f) return f.id;
  }
  if (ctx.intraCloud) {
    const source = await ctx.source.api.getServer(ctx.source.vm.serverId);
    if (source?.flavorId && flavors.some((f) => f.id === source.flavorId)) return source.flavorId;
  }
  throw new PermanentStepError(
    'NO_FLAVOR',
    wanted.length > 0
      ? `cloud ${ctx.target.cloud.name} has no flavor ${wanted.join(' or ')}`
      : `no flavor for cloud ${ctx.target.cloud.name}: set the VM type's flavorHint or the cloud's defaults.flavor`,
  );
}

/** VM type hint, then the cloud's default; 'none'/'auto' pass through; else the first internal network. */
async function resolveNetworks(ctx: CloneContext): Promise<string[] | 'none' | 'auto'> {
  const wanted = ctx.vmType?.networkHint ?? ctx.target.cloud.defaults.network;
  if (wanted === 'none' || wanted === 'auto') return wanted;
  const networks = await ctx.target.api.listNetworks();
  if (wanted) {
    const n = networks.find((net) => net.id === wanted || net.name === wanted);
    if (!n) throw new PermanentStepError('NO_NETWORK', `cloud ${ctx.target.cloud.name} has no network ${wanted}`);
    return [n.id];
  }
  const internal = networks.find((n) => !n.external);
  return internal ? [internal.id] : 'none';
}

