import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { DrainAction, LoadBalancerKind, ThresholdRole } from './enums';

@ObjectType({ description: 'A file rendered from a template onto a clone.' })
export class RecipeFile {
  @Field({ description: 'Absolute path on the clone.' })
  path!: string;

  @Field({ description: 'Template text; placeholders are filled with validated values of the clone.' })
  template!: string;

  @Field(() => Int, { description: 'File mode, e.g. 420 for 0644.' })
  mode!: number;
}

@ObjectType({ description: 'How a clone is reconfigured over SSH after boot.' })
export class ConfigureRecipe {
  @Field({ description: 'SSH user.' })
  sshUser!: string;

  @Field(() => Int, { description: 'SSH port.' })
  sshPort!: number;

  @Field(() => [RecipeFile], { description: 'Files written first.' })
  files!: RecipeFile[];

  @Field(() => [[String]], { description: 'Commands run next, each an argument vector (never a shell string).' })
  commands!: string[][];
}

@ObjectType({ description: 'A Nagios service created for each VM of the type.' })
export class MonitoredService {
  @Field({ description: 'Service description (the metric name).' })
  description!: string;

  @Field({ description: 'Nagios service template it uses.' })
  template!: string;
}

@ObjectType({ description: 'How VMs of the type are registered in Nagios.' })
export class MonitoringBinding {
  @Field({ description: 'Nagios host template.' })
  hostTemplate!: string;

  @Field(() => [MonitoredService], { description: 'Services per VM.' })
  services!: MonitoredService[];
}

@ObjectType({ description: 'The SIP load balancer VMs of the type are added to.' })
export class LoadBalancerBinding {
  @Field(() => LoadBalancerKind, { description: 'Kamailio dispatcher or OpenSIPS load_balancer.' })
  kind!: LoadBalancerKind;

  @Field(() => Int, { description: 'Dispatcher set id / load_balancer group id.' })
  setId!: number;

  @Field(() => Int, { description: 'SIP port of the VMs.' })
  sipPort!: number;

  @Field({ description: 'udp or tcp.' })
  transport!: string;

  @Field({ description: 'Name of the load balancer in the broker\'s configuration.' })
  target!: string;
}

@ObjectType({ description: 'How long a metric\'s WARNING/CRITICAL state must hold before the scheduler acts.' })
export class Threshold {
  @Field({ description: 'Metric name (a Nagios service description).' })
  metric!: string;

  @Field({ description: 'Whether the scheduler evaluates this metric.' })
  active!: boolean;

  @Field(() => Int, { description: 'Seconds WARNING must hold.' })
  warningHoldSeconds!: number;

  @Field(() => Int, { description: 'Seconds CRITICAL must hold.' })
  criticalHoldSeconds!: number;

  @Field(() => ThresholdRole, { description: 'Scale-up metric, or the scale-down (underload) metric.' })
  role!: ThresholdRole;

  @Field({ description: 'A held WARNING prepares a clone (snapshot and transfer) ahead of time.' })
  prepareOnWarning!: boolean;
}

@ObjectType({ description: 'A class of VMs under scaling control, e.g. opensips.' })
export class VmType {
  @Field(() => ID, { description: 'VM type id.' })
  id!: string;

  @Field({ description: 'Name, unique in the tenant.' })
  name!: string;

  @Field(() => Int, { description: 'Never scale below this many instances.' })
  minInstances!: number;

  @Field(() => Int, { description: 'Never scale above this many instances (clones in flight count).' })
  maxInstances!: number;

  @Field(() => Int, { description: 'Seconds after a scale-up before another.' })
  scaleUpCooldownSeconds!: number;

  @Field(() => Int, { description: 'Seconds after a scale-down before another.' })
  scaleDownCooldownSeconds!: number;

  @Field(() => String, { nullable: true, description: 'Flavor (name or id) for clones, over the cloud default.' })
  flavorHint!: string | null;

  @Field(() => String, { nullable: true, description: 'Network (name or id) for clones, over the cloud default.' })
  networkHint!: string | null;

  @Field(() => ConfigureRecipe, { nullable: true, description: 'Reconfiguration over SSH after boot.' })
  configureRecipe!: ConfigureRecipe | null;

  @Field(() => MonitoringBinding, { nullable: true, description: 'Nagios registration.' })
  monitoring!: MonitoringBinding | null;

  @Field(() => LoadBalancerBinding, { nullable: true, description: 'SIP load balancer registration.' })
  loadBalancer!: LoadBalancerBinding | null;

  @Field(() => Int, { description: 'Seconds to wait for active calls to end when draining.' })
  drainTimeoutSeconds!: number;

  @Field(() => DrainAction, { description: 'What to do when draining times out.' })
  drainTimeoutAction!: DrainAction;

  @Field({ description: 'When the VM type was created.' })
  createdAt!: Date;

  @Field({ description: 'When it was last changed.' })
  updatedAt!: Date;
}

@InputType({ description: 'A file rendered from a template onto a clone.' })
export class RecipeFileInput {
  @Field({ description: 'Absolute path, no "..".' })
  path!: string;

  @Field({ description: 'Template text (at most 64 KiB).' })
  template!: string;

  @Field(() => Int, { nullable: true, description: 'File mode (default 420 = 0644).' })
  mode?: number;
}

@InputType({ description: 'Reconfiguration over SSH after boot.' })
export class ConfigureRecipeInput {
  @Field({ description: 'SSH user (POSIX name).' })
  sshUser!: string;

  @Field(() => Int, { nullable: true, description: 'SSH port (default 22).' })
  sshPort?: number;

  @Field(() => [RecipeFileInput], { nullable: true, description: 'Files written first.' })
  files?: RecipeFileInput[];

  @Field(() => [[String]], { nullable: true, description: 'Commands run next, each an argument vector.' })
  commands?: string[][];
}

@InputType({ description: 'A Nagios service per VM.' })
export class MonitoredServiceInput {
  @Field({ description: 'Service description.' })
  description!: string;

  @Field({ description: 'Service template.' })
  template!: string;
}

@InputType({ description: 'Nagios registration.' })
export class MonitoringBindingInput {
  @Field({ description: 'Host template.' })
  hostTemplate!: string;

  @Field(() => [MonitoredServiceInput], { nullable: true, description: 'Services per VM.' })
  services?: MonitoredServiceInput[];
}

@InputType({ description: 'SIP load balancer registration.' })
export class LoadBalancerBindingInput {
  @Field(() => LoadBalancerKind, { description: 'Kamailio dispatcher or OpenSIPS load_balancer.' })
  kind!: LoadBalancerKind;

  @Field(() => Int, { description: 'Set id / group id.' })
  setId!: number;

  @Field(() => Int, { nullable: true, description: 'SIP port (default 5060).' })
  sipPort?: number;

  @Field({ nullable: true, description: 'udp (default) or tcp.' })
  transport?: string;

  @Field({ description: 'Name of the load balancer in the broker\'s configuration.' })
  target!: string;
}

@InputType({ description: 'A VM type (create, or full replacement on update).' })
export class VmTypeInput {
  @Field({ description: 'Name, unique in the tenant.' })
  name!: string;

  @Field(() => Int, { description: 'Minimum instances (0-1000).' })
  minInstances!: number;

  @Field(() => Int, { description: 'Maximum instances (>= minInstances, at most 1000).' })
  maxInstances!: number;

  @Field(() => Int, { nullable: true, description: 'Default 300.' })
  scaleUpCooldownSeconds?: number;

  @Field(() => Int, { nullable: true, description: 'Default 600.' })
  scaleDownCooldownSeconds?: number;

  @Field(() => String, { nullable: true, description: 'Flavor for clones.' })
  flavorHint?: string | null;

  @Field(() => String, { nullable: true, description: 'Network for clones.' })
  networkHint?: string | null;

  @Field(() => ConfigureRecipeInput, { nullable: true, description: 'Reconfiguration over SSH.' })
  configureRecipe?: ConfigureRecipeInput | null;

  @Field(() => MonitoringBindingInput, { nullable: true, description: 'Nagios registration.' })
  monitoring?: MonitoringBindingInput | null;

  @Field(() => LoadBalancerBindingInput, { nullable: true, description: 'SIP load balancer registration.' })
  loadBalancer?: LoadBalancerBindingInput | null;

  @Field(() => Int, { nullable: true, description: 'Default 300.' })
  drainTimeoutSeconds?: number;

  @Field(() => DrainAction, { nullable: true, description: 'Default FORCE_REMOVE.' })
  drainTimeoutAction?: DrainAction;
}

@InputType({ description: 'A threshold for one metric of a VM type.' })
export class ThresholdInput {
  @Field({ description: 'Metric name (a Nagios service description).' })
  metric!: string;

  @Field({ description: 'Whether the scheduler evaluates it.' })
  active!: boolean;

  @Field(() => Int, { description: 'Seconds WARNING must hold (0-86400).' })
  warningHoldSeconds!: number;

  @Field(() => Int, { description: 'Seconds CRITICAL must hold (0-86400).' })
  criticalHoldSeconds!: number;

  @Field(() => ThresholdRole, { description: 'SCALE_UP or SCALE_DOWN (at most one active SCALE_DOWN).' })
  role!: ThresholdRole;

  @Field({ nullable: true, description: 'Prepare a clone on a held WARNING (SCALE_UP only; default false).' })
  prepareOnWarning?: boolean;
}
