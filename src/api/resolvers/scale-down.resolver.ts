import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { ScaleDownJobEntity } from '../../domain/entities';
import { BusEvent } from '../../ports/event-bus.port';
import { ScaleDownEventPayload } from '../../pipeline/scale-down/scale-down-events';
import { ApiContext, callerOf } from '../context';
import { CloneJobError } from '../types/clone-job.types';
import { ScaleDownJob, ScaleDownJobEvent } from '../types/scale-down.types';
import { Vm } from '../types/vm.types';
import { nullIfNotFound } from './cloud.resolver';

@Resolver(() => ScaleDownJob)
export class ScaleDownResolver {
  @Mutation(() => ScaleDownJob, {
    description:
      'Remove one of your VMs: out of the load balancer, drained, deleted, out of monitoring. Refused (CONFLICT) when its VM type would go below minInstances or lose its last instance; a VM already being removed answers with that job.',
  })
  scaleDownVm(@Ctx() ctx: ApiContext, @Arg('vmId', () => ID) vmId: string) {
    return ctx.services.scaleDown.scaleDownVm(callerOf(ctx), vmId);
  }

  @Query(() => ScaleDownJob, { nullable: true, description: 'One scale-down job of your tenant, or null.' })
  scaleDownJob(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.scaleDown.get(callerOf(ctx), id).catch(nullIfNotFound);
  }

  @Query(() => [ScaleDownJob], { description: 'Scale-down jobs of your tenant, newest first, optionally of one VM.' })
  scaleDownJobs(
    @Ctx() ctx: ApiContext,
    @Arg('vmId', () => ID, { nullable: true }) vmId?: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: 'How many (1-500).' }) first?: number,
  ) {
    return ctx.services.scaleDown.list(callerOf(ctx), { vmId, first });
  }

  @Subscription(() => ScaleDownJobEvent, {
    description: 'Events of one scale-down job after afterSeq (stored ones first), then live ones; completes after the terminal event.',
    subscribe: ({ args, context }) => (context as ApiContext).services.scaleDown.events(callerOf(context as ApiContext), args.jobId, args.afterSeq),
  })
  scaleDownJobEvents(
    @Root() event: BusEvent,
    @Arg('jobId', () => ID) _jobId: string,
    @Arg('afterSeq', () => Int, { nullable: true }) _afterSeq?: number,
  ): ScaleDownJobEvent {
    const p = event.payload as unknown as ScaleDownEventPayload;
    return { ...p, seq: event.seq, at: new Date(p.at) };
  }

  @FieldResolver(() => Vm, { nullable: true, description: 'The VM removed (retired once the job is DONE).' })
  vm(@Root() job: ScaleDownJobEntity, @Ctx() ctx: ApiContext) {
    return ctx.loaders.vm(callerOf(ctx), job.vmId);
  }

  @FieldResolver(() => CloneJobError, { nullable: true, description: 'Cause of failure.' })
  error(@Root() job: ScaleDownJobEntity): CloneJobError | null {
    return job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null;
  }
}
