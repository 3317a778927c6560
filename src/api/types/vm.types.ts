import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Label, LabelInput } from './cloud.types';
import { HostKeySource, SampleState, VmOrigin } from './enums';

@ObjectType({ description: 'An address of a VM.' })
export class VmAddress {
  @Field({ description: 'Network name.' })
  network!: string;

  @Field({ description: 'IP address.' })
  address!: string;

  @Field({ description: 'fixed or floating.' })
  kind!: string;

  @Field(() => Int, { description: 'IP version.' })
  version!: number;
}

@ObjectType({ description: "The SSH host key a VM must present: CONFIGURE connects only when the server shows this key." })
export class VmHostKey {
  @Field(() => String, { nullable: true, description: 'Key algorithm, e.g. ssh-ed25519; null when only the fingerprint is known.' })
  algorithm!: string | null;

  @Field({ description: 'SHA256 fingerprint, as ssh-keygen -lf prints it.' })
  fingerprint!: string;

  @Field(() => HostKeySource, { description: 'Where the key came from.' })
  source!: HostKeySource;
}

@ObjectType({ description: 'A VM the broker knows: imported from a cloud or created by a clone.' })
export class Vm {
  @Field(() => ID, { description: 'VM id (the broker\'s).' })
  id!: string;

  @Field({ description: 'Server name.' })
  name!: string;

  @Field({ description: 'Server id in its cloud.' })
  serverId!: string;

  @Field(() => ID, { nullable: true, description: 'VM type it belongs to.' })
  vmTypeId!: string | null;

  @Field(() => [VmAddress], { description: 'Fixed and floating addresses.' })
  addresses!: VmAddress[];

  @Field({ description: 'Server status as last seen (ACTIVE, SHUTOFF, DELETED, ...).' })
  state!: string;

  @Field(() => VmOrigin, { description: 'Imported or cloned.' })
  origin!: VmOrigin;

  @Field(() => String, { nullable: true, description: 'Pinned SSH host key fingerprint (SHA256:...).', deprecationReason: 'Use sshHostKey { fingerprint }.' })
  sshHostKeyFingerprint!: string | null;

  @Field(() => String, { nullable: true, description: 'Why no host key is pinned (e.g. the server did not answer at import); null once one is.' })
  sshHostKeyNote!: string | null;

  @Field({ description: 'When the broker learned of it.' })
  createdAt!: Date;
}

@ObjectType({ description: 'One observation of one metric of one VM.' })
export class Sample {
  @Field(() => ID, { description: 'Sample id.' })
  id!: string;

  @Field(() => ID, { description: 'VM observed.' })
  vmId!: string;

  @Field({ description: 'Metric name.' })
  metric!: string;

  @Field(() => SampleState, { description: 'State.' })
  state!: SampleState;

  @Field(() => Float, { nullable: true, description: 'Value, when the source gives one.' })
  value!: number | null;

  @Field({ description: 'When it was observed.' })
  observedAt!: Date;

  @Field({ description: 'push (recordSamples) or nagios (the poller).' })
  source!: string;
}

@InputType({ description: 'A pushed sample.' })
export class SampleInput {
  @Field(() => ID, { description: 'One of your VMs.' })
  vmId!: string;

  @Field({ description: 'Metric name.' })
  metric!: string;

  @Field(() => SampleState, { description: 'State.' })
  state!: SampleState;

  @Field(() => Float, { nullable: true, description: 'Value.' })
  value?: number | null;

  @Field(() => Date, { nullable: true, description: 'When observed (default: now; not in the future).' })
  observedAt?: Date | null;
}

@ObjectType({ description: 'Hard filters on the target clouds a VM type (or the whole tenant) may use.' })
export class Policy {
  @Field(() => ID, { description: 'Policy id.' })
  id!: string;

  @Field({ description: 'Name, unique in the tenant.' })
  name!: string;

  @Field(() => ID, { nullable: true, description: 'VM type it applies to; null: every VM type of the tenant.' })
  vmTypeId!: string | null;

  @Field(() => [ID], { description: 'If not empty, only these clouds.' })
  allowCloudIds!: string[];

  @Field(() => [ID], { description: 'Never these clouds.' })
  denyCloudIds!: string[];

  @Field(() => [Label], { description: 'Target clouds must carry all these labels.' })
  requiredLabels!: Label[];

  @Field({ description: 'Never leave the source VM\'s cloud.' })
  homeCloudOnly!: boolean;

  @Field(() => Float, { nullable: true, description: 'Maximum cost per VM-hour.' })
  maxCostPerHour!: number | null;

  @Field(() => Int, { nullable: true, description: 'Minimum link bandwidth, Mbit/s.' })
  minBandwidthMbps!: number | null;

  @Field({ description: 'When created.' })
  createdAt!: Date;
}

@InputType({ description: 'A new policy.' })
export class PolicyInput {
  @Field({ description: 'Name, unique in the tenant.' })
  name!: string;

  @Field(() => ID, { nullable: true, description: 'VM type; omit for a tenant-wide policy.' })
  vmTypeId?: string | null;

  @Field(() => [ID], { nullable: true, description: 'Allow only these clouds.' })
  allowCloudIds?: string[];

  @Field(() => [ID], { nullable: true, description: 'Deny these clouds.' })
  denyCloudIds?: string[];

  @Field(() => [LabelInput], { nullable: true, description: 'Required labels.' })
  requiredLabels?: LabelInput[];

  @Field({ nullable: true, description: 'Never leave the home cloud.' })
  homeCloudOnly?: boolean;

  @Field(() => Float, { nullable: true, description: 'Maximum cost per VM-hour.' })
  maxCostPerHour?: number | null;

  @Field(() => Int, { nullable: true, description: 'Minimum bandwidth, Mbit/s.' })
  minBandwidthMbps?: number | null;
}

@InputType({ description: 'A running server of one of your clouds to adopt as a VM of a VM type.' })
export class ImportVmInput {
  @Field(() => ID, { description: 'One of your own clouds.' })
  cloudId!: string;

  @Field({ description: 'The server id in that cloud (Nova).' })
  serverId!: string;

  @Field(() => ID, { description: 'The VM type it joins.' })
  vmTypeId!: string;
}

@ObjectType({ description: 'A server as the cloud\'s Nova lists it.' })
export class CloudServer {
  @Field({ description: 'Server id in the cloud.' })
  id!: string;

  @Field({ description: 'Server name.' })
  name!: string;

  @Field({ description: 'Nova status (BUILD, ACTIVE, ERROR, ...).' })
  status!: string;

  @Field(() => [VmAddress], { description: 'Fixed and floating addresses.' })
  addresses!: VmAddress[];

  @Field(() => String, { nullable: true, description: 'Image it booted from.' })
  imageId!: string | null;

  @Field(() => String, { nullable: true, description: 'Flavor id.' })
  flavorId!: string | null;
}
