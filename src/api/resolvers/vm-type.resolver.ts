import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { VmTypeEntity } from '../../domain/entities';
import { ApiContext, callerOf } from '../context';
import { Policy, PolicyInput } from '../types/vm.types';
import { Threshold, ThresholdInput, VmType, VmTypeInput } from '../types/vm-type.types';

@Resolver(() => VmType)
export class VmTypeResolver {
  @Query(() => [VmType], { description: 'VM types of your tenant.' })
  vmTypes(@Ctx() ctx: ApiContext) {
    return ctx.services.vmTypes.list(callerOf(ctx));
  }

  @FieldResolver(() => [Threshold], { description: 'Thresholds per metric.' })
  thresholds(@Root() vmType: VmTypeEntity, @Ctx() ctx: ApiContext) {
    return ctx.loaders.thresholds(vmType.id);
  }

  @Mutation(() => VmType, { description: 'Create a VM type.' })
  createVmType(@Ctx() ctx: ApiContext, @Arg('input', () => VmTypeInput) input: VmTypeInput) {
    return ctx.services.vmTypes.create(callerOf(ctx), input);
  }

  @Mutation(() => VmType, { description: 'Replace a VM type\'s settings (thresholds are set with setThresholds).' })
  updateVmType(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string, @Arg('input', () => VmTypeInput) input: VmTypeInput) {
    return ctx.services.vmTypes.update(callerOf(ctx), id, input);
  }

  @Mutation(() => VmType, { description: 'Replace the VM type\'s thresholds; metrics not listed stop being watched.' })
  setThresholds(
    @Ctx() ctx: ApiContext,
    @Arg('vmTypeId', () => ID) vmTypeId: string,
    @Arg('thresholds', () => [ThresholdInput]) thresholds: ThresholdInput[],
  ) {
    return ctx.services.vmTypes.setThresholds(callerOf(ctx), vmTypeId, thresholds);
  }

  @Query(() => [Policy], { description: 'Placement policies of your tenant, optionally of one VM type.' })
  policies(@Ctx() ctx: ApiContext, @Arg('vmTypeId', () => ID, { nullable: true }) vmTypeId?: string) {
    return ctx.services.policies.list(callerOf(ctx), vmTypeId);
  }

  @Mutation(() => Policy, { description: 'Create a placement policy.' })
  createPolicy(@Ctx() ctx: ApiContext, @Arg('input', () => PolicyInput) input: PolicyInput) {
    return ctx.services.policies.create(callerOf(ctx), input);
  }

  @Mutation(() => Policy, { description: 'Replace a placement policy\'s settings (the same rules as createPolicy).' })
  updatePolicy(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string, @Arg('input', () => PolicyInput) input: PolicyInput) {
    return ctx.services.policies.update(callerOf(ctx), id, input);
  }

  @Mutation(() => Boolean, { description: 'Delete a placement policy: it no longer filters any clone.' })
  deletePolicy(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.policies.delete(callerOf(ctx), id);
  }
}
