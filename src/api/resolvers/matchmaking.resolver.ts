import { Arg, Ctx, ID, Query, Resolver, UseMiddleware } from 'type-graphql';
import { ApiContext, callerOf } from '../context';
import { ChargedPerExecution } from '../outside-call.middleware';
import { CloudCandidate } from '../types/matchmaking.types';

@Resolver(() => CloudCandidate)
export class MatchmakingResolver {
  @Query(() => [CloudCandidate], {
    description: 'Dry run of the matchmaker for one of your VMs: every cloud you can see, the eligible ones first in rank order, each with its reasons. Nothing is cloned.',
  })
  @UseMiddleware(ChargedPerExecution)
  matchmake(@Ctx() ctx: ApiContext, @Arg('vmId', () => ID) vmId: string) {
    return ctx.services.matchmaking.rank(callerOf(ctx), vmId);
  }
}
