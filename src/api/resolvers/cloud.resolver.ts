import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { CloudEntity } from '../../domain/entities';
import { ApiContext, callerOf } from '../context';
import { ChargedPerExecution } from '../outside-call.middleware';
import { Cloud, RegisterCloudInput, UpdateCloudInput } from '../types/cloud.types';

@Resolver(() => Cloud)
export class CloudResolver {
  @Query(() => [Cloud], { description: 'Your clouds and the clouds other tenants share with the federation.' })
  clouds(@Ctx() ctx: ApiContext) {
    return ctx.services.clouds.list(callerOf(ctx));
  }

  @Query(() => Cloud, { nullable: true, description: 'One cloud you can see, or null.' })
  async cloud(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.clouds.get(callerOf(ctx), id).catch(nullIfNotFound);
  }

  @FieldResolver(() => Boolean, { description: 'Whether your tenant owns (registered) the cloud.' })
  owned(@Root() cloud: CloudEntity, @Ctx() ctx: ApiContext): boolean {
    return cloud.tenantId === callerOf(ctx).tenantId;
  }

  @Mutation(() => Cloud, { description: 'Register a cloud; Keystone must accept the credentials first, else nothing is stored.' })
  @UseMiddleware(ChargedPerExecution)
  registerCloud(@Ctx() ctx: ApiContext, @Arg('input', () => RegisterCloudInput) input: RegisterCloudInput) {
    return ctx.services.clouds.register(callerOf(ctx), input);
  }

  @Mutation(() => Cloud, {
    description:
      'Change a cloud you own. A new authUrl or region needs credentials too: stored credentials are only ever sent to the Keystone URL they were registered with. New credentials are verified with Keystone (and the catalog re-pinned) before anything is stored.',
  })
  @UseMiddleware(ChargedPerExecution)
  updateCloud(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string, @Arg('input', () => UpdateCloudInput) input: UpdateCloudInput) {
    return ctx.services.clouds.update(callerOf(ctx), id, input);
  }

  @Mutation(() => Cloud, {
    description:
      "Re-verify a cloud you own: authenticate with its stored credentials, check its Keystone URL and catalog endpoints against the broker's endpoint policy again, and pin the catalog Keystone lists now. Needed after the cloud's catalog changed: until then the broker refuses tokens whose catalog differs from the pinned one.",
  })
  @UseMiddleware(ChargedPerExecution)
  verifyCloud(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.clouds.verify(callerOf(ctx), id);
  }

  @Mutation(() => Boolean, {
    description: 'Deregister a cloud you own: every VM the broker knew in it is retired (the servers are left running) and its credentials are wiped. Other tenants\' clone jobs that use it are cancelled and undo what they made (the credentials are wiped once they have ended); refused (CONFLICT) while clone jobs of your own use it.',
  })
  deregisterCloud(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.clouds.deregister(callerOf(ctx), id);
  }
}

/** `cloud(id)`-style queries answer null for unknown ids rather than an error. */
export function nullIfNotFound(err: unknown): null {
  if (err instanceof Error && 'code' in err && (err as { code: unknown }).code === 'NOT_FOUND') return null;
  throw err;
}
