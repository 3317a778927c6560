import { Arg, Ctx, ID, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import { ScalingDecisionEntity } from '../../domain/entities';
import { BusEvent } from '../../ports/event-bus.port';
import { ApiContext, callerOf } from '../context';
import { pageSizeArg } from '../types/page-size.arg';
import { ScalingDecision } from '../types/events.types';

@Resolver()
export class ScalingResolver {
  @Query(() => [ScalingDecision], { description: 'Scaling decisions of your tenant, newest first.' })
  scalingDecisions(
    @Ctx() ctx: ApiContext,
    @Arg('vmTypeId', () => ID, { nullable: true }) vmTypeId?: string,
    @Arg('first', () => Int, pageSizeArg(50, 'decisions')) first?: number,
  ) {
    return ctx.services.scalingDecisions.list(callerOf(ctx), vmTypeId, first);
  }

  @Subscription(() => ScalingDecision, {
    name: 'scalingDecisions',
    description: 'Scaling decisions of your tenant as they are made, optionally of one VM type.',
    subscribe: ({ args, context }) => (context as ApiContext).services.scalingDecisions.subscribe(callerOf(context as ApiContext), args.vmTypeId),
  })
  scalingDecisionsLive(@Root() event: BusEvent, @Arg('vmTypeId', () => ID, { nullable: true }) _vmTypeId?: string): ScalingDecision {
    const d = event.payload as unknown as ScalingDecisionEntity & { decidedAt: string };
    return { ...d, decidedAt: new Date(d.decidedAt) };
  }
}
