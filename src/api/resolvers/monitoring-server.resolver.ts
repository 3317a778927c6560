import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { MonitoringServerEntity } from '../../domain/entities';
import { ApiContext, callerOf } from '../context';
import { MonitoringServer, MonitoringServerInput, SshHostKey, UpdateMonitoringServerInput } from '../types/integration.types';
import { nullIfNotFound } from './cloud.resolver';

@Resolver(() => MonitoringServer)
export class MonitoringServerResolver {
  @Query(() => [MonitoringServer], { description: 'Monitoring (Nagios) servers of your tenant.' })
  monitoringServers(@Ctx() ctx: ApiContext) {
    return ctx.services.monitoringServers.list(callerOf(ctx));
  }

  @Query(() => MonitoringServer, { nullable: true, description: 'One of your monitoring servers, or null.' })
  monitoringServer(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.monitoringServers.get(callerOf(ctx), id).catch(nullIfNotFound);
  }

  @FieldResolver(() => SshHostKey, { description: 'The host key sshHost must present.' })
  sshHostKey(@Root() server: MonitoringServerEntity): SshHostKey {
    return { algorithm: server.sshHostKeyAlgorithm, fingerprint: server.sshHostKeyFingerprint };
  }

  @Mutation(() => MonitoringServer, { description: 'Register a Nagios 4 server; its password is encrypted, only ever sent to statusUrl, and never returned.' })
  registerMonitoringServer(@Ctx() ctx: ApiContext, @Arg('input', () => MonitoringServerInput) input: MonitoringServerInput) {
    return ctx.services.monitoringServers.register(callerOf(ctx), input);
  }

  @Mutation(() => MonitoringServer, { description: 'Change a monitoring server. A new statusUrl needs the password again; a new sshHost or sshPort needs sshHostKey again.' })
  updateMonitoringServer(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string, @Arg('input', () => UpdateMonitoringServerInput) input: UpdateMonitoringServerInput) {
    return ctx.services.monitoringServers.update(callerOf(ctx), id, input);
  }

  @Mutation(() => Boolean, { description: 'Delete a monitoring server; refused (CONFLICT) while a VM type is bound to it.' })
  deleteMonitoringServer(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string) {
    return ctx.services.monitoringServers.delete(callerOf(ctx), id);
  }
}
