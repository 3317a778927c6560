import { Arg, Ctx, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { BusEvent } from '../../ports/event-bus.port';
import { AuditPayload } from '../../services/audit.service';
import { ApiContext, callerOf } from '../context';
import { pageSizeArg } from '../types/page-size.arg';
import { AuditEvent } from '../types/events.types';
import { ApiToken, CreateApiTokenInput, CreatedApiToken, CreateTenantInput, Principal, Tenant } from '../types/tenancy.types';

@Resolver()
export class TenancyResolver {
  @Query(() => Principal, { description: 'The caller.' })
  me(@Ctx() ctx: ApiContext): Principal {
    return callerOf(ctx);
  }

  @Query(() => [Tenant], { description: 'Every tenant (admins) or the caller\'s own.' })
  tenants(@Ctx() ctx: ApiContext) {
    return ctx.services.auth.listTenants(callerOf(ctx));
  }

  @Query(() => [ApiToken], { description: 'Tokens of the caller\'s tenant (never their secrets).' })
  apiTokens(@Ctx() ctx: ApiContext) {
    return ctx.services.auth.listApiTokens(callerOf(ctx));
  }

  @Query(() => [AuditEvent], { description: 'The tenant\'s audit log, newest first.' })
  async auditLog(@Ctx() ctx: ApiContext, @Arg('first', () => Int, pageSizeArg(50, 'entries')) first?: number | null): Promise<AuditEvent[]> {
    return ctx.services.audit.list(callerOf(ctx), first ?? undefined);
  }

  @Mutation(() => Tenant, { description: 'Create a tenant (admins only).' })
  createTenant(@Ctx() ctx: ApiContext, @Arg('input', () => CreateTenantInput) input: CreateTenantInput) {
    return ctx.services.auth.createTenant(callerOf(ctx), input);
  }

  @Mutation(() => CreatedApiToken, { description: 'Create an API token; the secret is in the response and nowhere else.' })
  createApiToken(@Ctx() ctx: ApiContext, @Arg('input', () => CreateApiTokenInput) input: CreateApiTokenInput) {
    return ctx.services.auth.createApiToken(callerOf(ctx), input);
  }

  @Mutation(() => ApiToken, { description: 'Revoke an API token; it authenticates nothing from now on.' })
  revokeApiToken(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.auth.revokeApiToken(callerOf(ctx), id);
  }

  @Subscription(() => AuditEvent, {
    description: 'The tenant\'s audit events after afterSeq (stored ones first), then live ones; none missed, none twice.',
    subscribe: ({ args, context }) => (context as ApiContext).services.audit.subscribe(callerOf(context as ApiContext), args.afterSeq ?? 0),
  })
  auditEvents(@Root() event: BusEvent, @Arg('afterSeq', () => Int, { nullable: true }) _afterSeq?: number): AuditEvent {
    const p = event.payload as unknown as AuditPayload;
    return { seq: event.seq, actorTokenId: p.actorTokenId, action: p.action, objectType: p.objectType, objectId: p.objectId, details: p.details, at: new Date(p.at) };
  }
}
