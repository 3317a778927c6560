import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { ApiContext, callerOf } from '../context';
import { SshKey, SshKeyInput, UpdateSshKeyInput } from '../types/integration.types';
import { nullIfNotFound } from './cloud.resolver';

@Resolver(() => SshKey)
export class SshKeyResolver {
  @Query(() => [SshKey], { description: 'SSH keys of your tenant.' })
  sshKeys(@Ctx() ctx: ApiContext) {
    return ctx.services.sshKeys.list(callerOf(ctx));
  }

  @Query(() => SshKey, { nullable: true, description: 'One of your SSH keys, or null.' })
  sshKey(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.sshKeys.get(callerOf(ctx), id).catch(nullIfNotFound);
  }

  @Mutation(() => SshKey, { description: 'Store an SSH key pair; the private key (and passphrase) are encrypted and never returned, the public key and fingerprint are derived.' })
  createSshKey(@Ctx() ctx: ApiContext, @Arg('input', () => SshKeyInput) input: SshKeyInput) {
    return ctx.services.sshKeys.create(callerOf(ctx), input);
  }

  @Mutation(() => SshKey, { description: 'Rename an SSH key, change its user, or replace the key pair.' })
  updateSshKey(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string, @Arg('input', () => UpdateSshKeyInput) input: UpdateSshKeyInput) {
    return ctx.services.sshKeys.update(callerOf(ctx), id, input);
  }

  @Mutation(() => Boolean, { description: 'Delete an SSH key; refused (CONFLICT) while a VM type or monitoring server uses it.' })
  deleteSshKey(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.sshKeys.delete(callerOf(ctx), id);
  }
}
