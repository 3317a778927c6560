/** BOOT: create the clone server in the target cloud from the transferred image (or the snapshot). */
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { Server } from '../../ports/cloud-api.port';
import { CloneContext, CloneStep, CloneStepDeps, PermanentStepError, pollUntil } from '../clone-step';

export function bootStep(deps: CloneStepDeps): CloneStep {
  return {
    phase: ClonePhase.BOOT,
    applies: () => true,

    async run(ctx) {
      const api = ctx.target.api;
      let server = await findServer(ctx);
      if (server?.status === 'ERROR') {
        throw new PermanentStepError(StepErrorCode.BOOT_FAILED, `server ${server.id} went to ERROR in cloud ${ctx.target.cloud.name}`);
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
            throw new PermanentStepError(StepErrorCode.BOOT_FAILED, `server ${id} is ${s?.status ?? 'gone'} in cloud ${ctx.target.cloud.name}`);
          }
          return s.status === 'ACTIVE' ? s : null;
        },
        { what: `server ${id} to become ACTIVE in cloud ${ctx.target.cloud.name}`, timeoutMs: deps.timeouts.bootMs, signal: ctx.signal },
      );
      await ctx.checkpoint({ serverId: active.id, addresses: active.addresses });
      ctx.log.info({ serverId: active.id }, 'clone server active');
    },

    /**
     * Deletes the checkpointed server and any other the job's tag finds, and waits until Nova has
     * really removed them (so their quota is free again).
     */
    async undo(ctx) {
      const ids = new Set((await taggedServers(ctx)).map((s) => s.id));
      if (ctx.artefacts.serverId) ids.add(ctx.artefacts.serverId);
      for (const id of ids) {
        await ctx.target.api.deleteServer(id);
        await pollUntil(async () => ((await ctx.target.api.getServer(id)) ? null : true), {
          what: `server ${id} to be deleted in cloud ${ctx.target.cloud.name}`,
          timeoutMs: deps.timeouts.deleteMs,
          signal: AbortSignal.timeout(deps.timeouts.deleteMs),
        });
      }
    },
  };
}

/**
 * The job's server: the checkpointed one while it exists, else one the job's tag finds (an
 * attempt that died between Nova's answer and its checkpoint), which is then checkpointed.
 */
async function findServer(ctx: CloneContext): Promise<Server | null> {
  const checkpointed = ctx.artefacts.serverId;
  if (checkpointed) {
    const server = await ctx.target.api.getServer(checkpointed);
    if (server) return server;
  }
  const found = (await taggedServers(ctx)).find((s) => s.id !== checkpointed && s.status !== 'DELETED');
  if (found) await ctx.checkpoint({ serverId: found.id });
  return found ?? null;
}

async function taggedServers(ctx: CloneContext): Promise<Server[]> {
  return (await ctx.target.api.listServers({ name: ctx.job.name })).filter((s) => s.metadata.intercloud_job === ctx.job.id);
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
    StepErrorCode.NO_FLAVOR,
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
    if (!n) throw new PermanentStepError(StepErrorCode.NO_NETWORK, `cloud ${ctx.target.cloud.name} has no network ${wanted}`);
    return [n.id];
  }
  const internal = networks.find((n) => !n.external);
  return internal ? [internal.id] : 'none';
}

