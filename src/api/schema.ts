/** Builds the GraphQL schema from the resolvers; also emitted to schema/schema.graphql. */
import { DateTimeResolver } from 'graphql-scalars';
import { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import './types/enums';
import { CloneJobResolver } from './resolvers/clone-job.resolver';
import { CloudResolver } from './resolvers/cloud.resolver';
import { LoadBalancerResolver } from './resolvers/load-balancer.resolver';
import { MatchmakingResolver } from './resolvers/matchmaking.resolver';
import { ScaleDownResolver } from './resolvers/scale-down.resolver';
import { MonitoringServerResolver } from './resolvers/monitoring-server.resolver';
import { ScalingResolver } from './resolvers/scaling.resolver';
import { SshKeyResolver } from './resolvers/ssh-key.resolver';
import { StandbyImageResolver } from './resolvers/standby-image.resolver';
import { TenancyResolver } from './resolvers/tenancy.resolver';
import { VmTypeResolver } from './resolvers/vm-type.resolver';
import { VmResolver } from './resolvers/vm.resolver';

export const resolvers = [
  TenancyResolver,
  CloudResolver,
  VmTypeResolver,
  VmResolver,
  CloneJobResolver,
  StandbyImageResolver,
  ScaleDownResolver,
  ScalingResolver,
  MatchmakingResolver,
  SshKeyResolver,
  MonitoringServerResolver,
  LoadBalancerResolver,
] as const;

export async function buildApiSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    // Inputs are validated by the services (zod), which name the field and the rule.
    validate: false,
    emitSchemaFile: false,
    // type-graphql insists on a PubSub whenever subscriptions exist, but every subscription here
    // has its own `subscribe` backed by the durable EventBus; topic-based ones are a mistake.
    pubSub: {
      publish: () => {
        throw new Error('topic-based pubSub is not used: publish through the EventBus');
      },
      subscribe: () => {
        throw new Error('topic-based pubSub is not used: give the @Subscription a subscribe function');
      },
    },
  });
}
