import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { LoadBalancerEntity } from '../../domain/entities';
import { ApiContext, callerOf } from '../context';
import { LoadBalancer, LoadBalancerDb, LoadBalancerInput, UpdateLoadBalancerInput } from '../types/integration.types';
import { nullIfNotFound } from './cloud.resolver';

@Resolver(() => LoadBalancer)
export class LoadBalancerResolver {
  @Query(() => [LoadBalancer], { description: 'SIP load balancers of your tenant.' })
  loadBalancers(@Ctx() ctx: ApiContext) {
    return ctx.services.loadBalancers.list(callerOf(ctx));
  }

  @Query(() => LoadBalancer, { nullable: true, description: 'One of your load balancers, or null.' })
  loadBalancer(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.loadBalancers.get(callerOf(ctx), id).catch(nullIfNotFound);
  }

  @FieldResolver(() => LoadBalancerDb, { description: 'Where the destinations table is (without the password).' })
  db(@Root() lb: LoadBalancerEntity): LoadBalancerDb {
    return { host: lb.dbHost, port: lb.dbPort, user: lb.dbUser, database: lb.dbName };
  }

  @Mutation(() => LoadBalancer, { description: 'Register a SIP load balancer; its database password is encrypted, only ever sent to its server, and never returned.' })
  registerLoadBalancer(@Ctx() ctx: ApiContext, @Arg('input', () => LoadBalancerInput) input: LoadBalancerInput) {
    return ctx.services.loadBalancers.register(callerOf(ctx), input);
  }

  @Mutation(() => LoadBalancer, { description: 'Change a load balancer. A new db.host, db.port or db.user needs db.password again.' })
  updateLoadBalancer(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string, @Arg('input', () => UpdateLoadBalancerInput) input: UpdateLoadBalancerInput) {
    return ctx.services.loadBalancers.update(callerOf(ctx), id, input);
  }

  @Mutation(() => Boolean, { description: 'Delete a load balancer; refused (CONFLICT) while a VM type is bound to it.' })
  deleteLoadBalancer(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.loadBalancers.delete(callerOf(ctx), id);
  }
}
