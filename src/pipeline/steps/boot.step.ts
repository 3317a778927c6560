/** BOOT: create the clone server in the target cloud from the transferred image (or the snapshot, or a standby image). */
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { bootTargetOf, chooseFlavor, chooseNetworks } from '../../domain/boot-choice';
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
        const imageId = bootImageOf(ctx);
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

/** A standby image when the job has one, else what SNAPSHOT (within one cloud) or TRANSFER made. */
export function bootImageOf(ctx: CloneContext): string {
  const a = ctx.artefacts;
  return a.standbyImageId ?? (ctx.intraCloud ? a.snapshotImageId! : a.targetImageId!);
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

/** The shared boot rule (domain/boot-choice.ts): hint if this tenant may use it, the cloud's default, the source's own flavor. */
async function resolveFlavor(ctx: CloneContext): Promise<string> {
  const flavors = await ctx.target.api.listFlavors();
  const sourceFlavor = ctx.intraCloud ? ((await ctx.source.api.getServer(ctx.source.vm.serverId))?.flavorId ?? null) : null;
  const choice = chooseFlavor(flavors, ctx.vmType?.flavorHint ?? null, bootTargetOf(ctx.target.cloud, ctx.job.tenantId), sourceFlavor);
  if (!choice.ok) throw new PermanentStepError(StepErrorCode.NO_FLAVOR, choice.reason);
  return choice.value.id;
}

async function resolveNetworks(ctx: CloneContext): Promise<string[] | 'none' | 'auto'> {
  const choice = chooseNetworks(await ctx.target.api.listNetworks(), ctx.vmType?.networkHint ?? null, bootTargetOf(ctx.target.cloud, ctx.job.tenantId));
  if (!choice.ok) throw new PermanentStepError(StepErrorCode.NO_NETWORK, choice.reason);
  return choice.value;
}
