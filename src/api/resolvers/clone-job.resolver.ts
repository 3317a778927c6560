import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { CloneJobState } from '../../domain/clone-phase';
import { CloneJobEntity } from '../../domain/entities';
import { encodeCursor } from '../../services/clone-job-query.service';
import { ApiContext, callerOf } from '../context';
import { CloneJob, CloneJobConnection, CloneJobError } from '../types/clone-job.types';
import { Cloud } from '../types/cloud.types';
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
    @Arg('first', () => Int, { nullable: true }) first?: number,
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

  @FieldResolver(() => CloneJobError, { nullable: true, description: 'Cause of failure.' })
  error(@Root() job: CloneJobEntity): CloneJobError | null {
    return job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null;
  }

  @FieldResolver(() => Vm, { nullable: true, description: 'The VM cloned.' })
  sourceVm(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return ctx.services.vms.get(callerOf(ctx), job.sourceVmId).catch(nullIfNotFound);
  }

  @FieldResolver(() => Cloud, { nullable: true, description: 'Cloud of the source VM.' })
  sourceCloud(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return ctx.services.clouds.get(callerOf(ctx), job.sourceCloudId).catch(nullIfNotFound);
  }

  @FieldResolver(() => Cloud, { nullable: true, description: 'Cloud the clone goes to.' })
  targetCloud(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return ctx.services.clouds.get(callerOf(ctx), job.targetCloudId).catch(nullIfNotFound);
  }

  @FieldResolver(() => Vm, { nullable: true, description: 'The clone, once booted.' })
  resultVm(@Root() job: CloneJobEntity, @Ctx() ctx: ApiContext) {
    return job.resultVmId ? ctx.services.vms.get(callerOf(ctx), job.resultVmId).catch(nullIfNotFound) : null;
  }
}
