import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { VmEntity } from '../../domain/entities';
import { ApiContext, callerOf } from '../context';
import { ChargedPerExecution } from '../outside-call.middleware';
import { pageSizeArg } from '../types/page-size.arg';
import { Cloud } from '../types/cloud.types';
import { CloudServer, ImportVmInput, Sample, SampleInput, Vm, VmHostKey } from '../types/vm.types';
import { nullIfNotFound } from './cloud.resolver';

@Resolver(() => Vm)
export class VmResolver {
  @Query(() => [Vm], { description: 'VMs of your tenant, optionally of one VM type and/or cloud.' })
  vms(
    @Ctx() ctx: ApiContext,
    @Arg('vmTypeId', () => ID, { nullable: true }) vmTypeId?: string,
    @Arg('cloudId', () => ID, { nullable: true }) cloudId?: string,
  ) {
    return ctx.services.vms.list(callerOf(ctx), { vmTypeId, cloudId });
  }

  @Query(() => Vm, { nullable: true, description: 'One of your VMs (retired ones too), or null.' })
  vm(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.vms.get(callerOf(ctx), id).catch(nullIfNotFound);
  }

  @Mutation(() => Vm, { description: 'Adopt a running server of one of your clouds into a VM type.' })
  @UseMiddleware(ChargedPerExecution)
  importVm(@Ctx() ctx: ApiContext, @Arg('input', () => ImportVmInput) input: ImportVmInput) {
    return ctx.services.vmImport.importVm(callerOf(ctx), input);
  }

  @Mutation(() => Vm, {
    description:
      'Pin (or replace) the SSH host key a VM must present, from an OpenSSH public key line (ssh-ed25519 AAAA... comment) or a SHA256: fingerprint. Clones made from the VM afterwards expect it too.',
  })
  setVmHostKey(@Ctx() ctx: ApiContext, @Arg('vmId', () => ID) vmId: string, @Arg('key') key: string) {
    return ctx.services.vms.setHostKey(callerOf(ctx), vmId, key);
  }

  @FieldResolver(() => VmHostKey, { nullable: true, description: 'The pinned SSH host key; null: none yet (see sshHostKeyNote), and CONFIGURE refuses to run.' })
  sshHostKey(@Root() vm: VmEntity): VmHostKey | null {
    if (!vm.sshHostKeyFingerprint || !vm.sshHostKeySource) return null;
    return { algorithm: vm.sshHostKeyAlgorithm, fingerprint: vm.sshHostKeyFingerprint, source: vm.sshHostKeySource };
  }

  @Query(() => [CloudServer], { description: 'Servers of one of your own clouds, as its Nova lists them (to pick one for importVm).' })
  @UseMiddleware(ChargedPerExecution)
  cloudServers(@Ctx() ctx: ApiContext, @Arg('cloudId', () => ID) cloudId: string) {
    return ctx.services.vmImport.listServers(callerOf(ctx), cloudId);
  }

  @FieldResolver(() => Cloud, { nullable: true, description: 'The cloud the VM runs in (null if you can no longer see it).' })
  cloud(@Root() vm: VmEntity, @Ctx() ctx: ApiContext) {
    return ctx.loaders.cloud(callerOf(ctx), vm.cloudId);
  }

  @Query(() => [Sample], { description: 'Samples of one metric of one VM, newest first: the latest `first`, or all since `since`.' })
  samples(
    @Ctx() ctx: ApiContext,
    @Arg('vmId', () => ID) vmId: string,
    @Arg('metric') metric: string,
    @Arg('since', () => Date, { nullable: true }) since?: Date,
    @Arg('first', () => Int, pageSizeArg(100, 'samples')) first?: number,
  ) {
    return ctx.services.samples.list(callerOf(ctx), { vmId, metric, since, first: first ?? undefined });
  }

  @Mutation(() => Int, { description: 'Store pushed samples (all or none); returns how many were stored.' })
  recordSamples(@Ctx() ctx: ApiContext, @Arg('samples', () => [SampleInput]) samples: SampleInput[]) {
    return ctx.services.samples.record(callerOf(ctx), samples);
  }
}
