import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { StandbyImageEntity } from '../../domain/entities';
import { ageSeconds, refreshAt, standbyState, StandbyState } from '../../domain/standby';
import { ApiContext, callerOf } from '../context';
import { StandbyImage } from '../types/clone-job.types';
import { Cloud } from '../types/cloud.types';
import { pageSizeArg } from '../types/page-size.arg';
import { VmType } from '../types/vm-type.types';

/** Standby images: listed, released, and what each one's age and state are at the time of the response. */
@Resolver(() => StandbyImage)
export class StandbyImageResolver {
  @Query(() => [StandbyImage], { description: 'Standby images of your tenant, newest first: the fresh ones, or with includeExpired also the expired and deleted ones.' })
  standbyImages(
    @Ctx() ctx: ApiContext,
    @Arg('vmTypeId', () => ID, { nullable: true, description: 'Only standby images of this VM type.' }) vmTypeId?: string,
    @Arg('cloudId', () => ID, { nullable: true, description: 'Only standby images in this cloud.' }) cloudId?: string,
    @Arg('includeExpired', () => Boolean, { nullable: true, defaultValue: false, description: 'Also expired and deleted ones (default false).' }) includeExpired?: boolean,
    @Arg('first', () => Int, pageSizeArg(50, 'standby images')) first?: number,
  ) {
    return ctx.services.standbyImages.list(callerOf(ctx), { vmTypeId, cloudId, includeExpired, first: first ?? undefined });
  }

  @Mutation(() => StandbyImage, {
    description:
      'Stop keeping a standby image fresh and expire it now: no new clone boots from it, and it is deleted from its cloud at once (or, while a running clone boots from it, by the leader once that clone has ended). A standby already deleted is returned as it is.',
  })
  releaseStandby(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.standbyImages.release(callerOf(ctx), id);
  }

  @FieldResolver(() => Int, { description: 'Seconds since it was made, at the time of the response.' })
  ageSeconds(@Root() s: StandbyImageEntity): number {
    return ageSeconds(s, new Date());
  }

  @FieldResolver(() => StandbyState, { description: 'FRESH, EXPIRED (not yet deleted) or DELETED.' })
  state(@Root() s: StandbyImageEntity): StandbyState {
    return standbyState(s, new Date());
  }

  @FieldResolver(() => Boolean, { description: 'Whether clones boot from it now: in its cloud and not expired (state FRESH).' })
  fresh(@Root() s: StandbyImageEntity): boolean {
    return standbyState(s, new Date()) === StandbyState.FRESH;
  }

  @FieldResolver(() => Date, { nullable: true, description: 'Kept fresh: when the leader prepares its successor (a quarter of its lifetime before expiresAt). Null when not kept fresh.' })
  refreshAt(@Root() s: StandbyImageEntity): Date | null {
    return s.keepFresh && !s.deletedAt ? refreshAt(s) : null;
  }

  @FieldResolver(() => VmType, { nullable: true, description: 'The VM type it is an image of (null once deleted).' })
  vmType(@Root() s: StandbyImageEntity, @Ctx() ctx: ApiContext) {
    return ctx.loaders.vmType(callerOf(ctx), s.vmTypeId);
  }

  @FieldResolver(() => Cloud, { nullable: true, description: 'The cloud it is in (null once that cloud is deregistered or no longer visible to you).' })
  cloud(@Root() s: StandbyImageEntity, @Ctx() ctx: ApiContext) {
    return ctx.loaders.cloud(callerOf(ctx), s.cloudId);
  }
}
