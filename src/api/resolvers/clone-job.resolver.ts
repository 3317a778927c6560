import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription, UseMiddleware } from 'type-graphql';
import { CloneJobState } from '../../domain/clone-phase';
import { CloneJobEntity } from '../../domain/entities';
import { encodeCursor } from '../../services/clone-job-query.service';
import { ApiContext, callerOf } from '../context';
import { ChargedPerExecution } from '../outside-call.middleware';
import { pageSizeArg } from '../types/page-size.arg';
import { BusEvent } from '../../ports/event-bus.port';
import { CloneEventPayload } from '../../pipeline/clone-events';
import { CloneJob, CloneJobConnection, CloneJobError, CloneJobEvent, CloneVmInput, StandbyImage } from '../types/clone-job.types';
import { Cloud } from '../types/cloud.types';
import { Placement } from '../types/matchmaking.types';
import { Vm } from '../types/vm.types';
import { nullIfNotFound } from './cloud.resolver';

@Resolver(() => CloneJob)
export class CloneJobResolver {
  @Query(() => CloneJob, { nullable: true, description: 'One clone job of your tenant, or null.' })
  cloneJob(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.cloneJobs.get(callerOf(ctx), id).catch(nullIfNotFound);
  }

  @Query(() => CloneJobConnection, { description: 'Clone jobs of your tenant, newest first, `first` at a time after cursor `after`.' })
  async cloneJobs(
    @Ctx() ctx: ApiContext,
    @Arg('state', () => CloneJobState, { nullable: true }) state?: CloneJobState,
    @Arg('first', () => Int, pageSizeArg(20, 'jobs')) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<CloneJobConnection> {
    const page = await ctx.services.cloneJobs.page(callerOf(ctx), { state, first: first ?? undefined, after });
    const edges = page.jobs.map((job) => ({ cursor: encodeCursor(job), node: job as unknown as CloneJob }));
    return {
      edges,
      nodes: edges.map((e) => e.node),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      totalCount: page.totalCount,
    };
  }

  @Mutation(() => CloneJob, { description: 'Clone a VM into a cloud (or the best one the matchmaker finds). Returns at once; watch cloneJobEvents.' })
  @UseMiddleware(ChargedPerExecution)
  cloneVm(@Ctx() ctx: ApiContext, @Arg('input', () => CloneVmInput) input: CloneVmInput) {
    return ctx.services.clone.cloneVm(callerOf(ctx), input);
  }

  @Mutation(() => CloneJob, {
    description:
      'A standby image of the VM type in a cloud, ahead of need: a STANDBY clone job of the type\'s original VM (SNAPSHOT, TRANSFER, IMPORT, then DONE keeping the image for STANDBY_IMAGE_TTL_SECONDS). Later clones of the type into that cloud boot from it and skip those phases. While a prepare is in flight, or a fresh standby exists, returns that job instead of starting another.',
  })
  @UseMiddleware(ChargedPerExecution)
  prepareStandby(
    @Ctx() ctx: ApiContext,
    @Arg('vmTypeId', () => ID) vmTypeId: string,
    @Arg('cloudId', () => ID) cloudId: string,
    @Arg('keepFresh', () => Boolean, {
      nullable: true,
      defaultValue: false,
      description: 'Keep a fresh standby there: the leader prepares a successor before this one expires, until releaseStandby. Asked of a standby already there or being prepared, it keeps that one fresh.',
    })
    keepFresh?: boolean,
  ) {
    return ctx.services.clone.prepareStandby(callerOf(ctx), vmTypeId, cloudId, { keepFresh });
  }

  @Mutation(() => CloneJob, { description: 'Cancel a clone job: it stops at its next safe point and undoes what it made.' })
  cancelCloneJob(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.clone.cancel(callerOf(ctx), id);
  }

  @Subscription(() => CloneJobEvent, {
    description: 'Events of one job after afterSeq (stored ones first), then live ones: none missed, none twice. Completes after the terminal event (DONE, FAILED or CANCELLED), also when replaying a job that has already ended.',
    subscribe: ({ args, context }) => (context as ApiContext).services.clone.events(callerOf(context as ApiContext), args.jobId, args.afterSeq),
  })
  cloneJobEvents(
    @Root() event: BusEvent,
    @Arg('jobId', () => ID) _jobId: string,
    @Arg('afterSeq', () => Int, { nullable: true }) _afterSeq?: number,
  ): CloneJobEvent {
    return toCloneJobEvent(event);
  }

  @Subscription(() => CloneJobEvent, {
    description:
      'Events of every clone job of your tenant. With afterSeq, the stored ones after that updateSeq first, then live ones (none missed, none twice); without it, live ones from now on. Each event carries its job\'s seq and its updateSeq.',
    subscribe: ({ args, context }) => (context as ApiContext).services.clone.updates(callerOf(context as ApiContext), args.afterSeq),
  })
  cloneJobUpdates(@Root() event: BusEvent, @Arg('afterSeq', () => Int, { nullable: true }) _afterSeq?: number): CloneJobEvent {
    const p = event.payload as unknown as CloneEventPayload & { jobSeq: number };
    return { ...p, seq: p.jobSeq, updateSeq: event.seq, at: new Date(p.at) };
  }

  @FieldResolver(() => CloneJobError, { nullable: true, description: 'Cause of failure.' })
  error(@Root() job: CloneJobEntity): CloneJobError | null {
    return job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null;
  }

  @FieldResolver(() => Vm, { nullable: true, description: 'The VM cloned.' })
  sourceVm(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return ctx.loaders.vm(callerOf(ctx), job.sourceVmId);
  }

  @FieldResolver(() => Cloud, { nullable: true, description: 'Cloud of the source VM.' })
  sourceCloud(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return ctx.loaders.cloud(callerOf(ctx), job.sourceCloudId);
  }

  @FieldResolver(() => Cloud, { nullable: true, description: 'Cloud the clone goes to.' })
  targetCloud(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return ctx.loaders.cloud(callerOf(ctx), job.targetCloudId);
  }

  @FieldResolver(() => StandbyImage, { nullable: true, description: 'STANDBY jobs: the standby image made (once DONE). Clones: the standby image booted from instead of SNAPSHOT, TRANSFER and IMPORT; null for a full clone.' })
  standbyImage(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return job.standbyImageId ? ctx.loaders.standbyImage(callerOf(ctx), job.standbyImageId) : null;
  }

  @FieldResolver(() => Placement, { nullable: true, description: "Why the clone went to its target: the matchmaker's choice with every candidate, its verdict and estimate, when cloneVm named no target; null when it named one." })
  placement(@Root() job: CloneJobEntity): Placement | null {
    return job.placement ? { ...job.placement, decidedAt: new Date(job.placement.decidedAt) } : null;
  }

  @FieldResolver(() => Vm, { nullable: true, description: 'The clone, once booted.' })
  resultVm(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return job.resultVmId ? ctx.loaders.vm(callerOf(ctx), job.resultVmId) : null;
  }
}

function toCloneJobEvent(event: BusEvent): CloneJobEvent {
  const p = event.payload as unknown as CloneEventPayload;
  return { ...p, seq: event.seq, at: new Date(p.at) };
}
