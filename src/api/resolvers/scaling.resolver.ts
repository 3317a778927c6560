import { Arg, Ctx, ID, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import { BusEvent } from '../../ports/event-bus.port';
import { ScalingDecisionPayload } from '../../services/scaling-decision.service';
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
    description:
      'Scaling decisions of your tenant, optionally of one VM type: with afterSeq the stored ones after it first (none missed, none twice), then live ones; without it, live ones from now on.',
    subscribe: ({ args, context }) => (context as ApiContext).services.scalingDecisions.subscribe(callerOf(context as ApiContext), args.vmTypeId, args.afterSeq),
  })
  scalingDecisionsLive(
    @Root() event: BusEvent,
    @Arg('vmTypeId', () => ID, { nullable: true }) _vmTypeId?: string,
    @Arg('afterSeq', () => Int, { nullable: true, description: "Resume after this seq of your tenant's decision stream (0: every stored decision)." }) _afterSeq?: number,
  ): ScalingDecision {
    const d = event.payload as unknown as ScalingDecisionPayload;
    return { ...d, seq: event.seq, decidedAt: new Date(d.decidedAt) };
  }
}
