import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { DrainAction, ThresholdRole } from './enums';

const TEMPLATES = 'a template: {{name}} placeholders of the closed variable set (see the README), \\{{ for a literal {{';

@ObjectType({ description: 'A file rendered from a template onto a clone.' })
export class RecipeFile {
  @Field({ description: 'Absolute path on the clone.' })
  path!: string;

  @Field({ description: `File content, ${TEMPLATES}.` })
  template!: string;

  @Field(() => Int, { description: 'File mode, e.g. 420 for 0644.' })
  mode!: number;
}

@ObjectType({ description: 'What must answer before a reconfigured clone counts as ready.' })
export class ReadinessCheck {
  @Field(() => [String], { nullable: true, description: 'Argument vector run on the clone that must exit 0 (each element a template).' })
  command!: string[] | null;

  @Field(() => Int, { nullable: true, description: 'TCP port on the clone that must accept a connection.' })
  tcpPort!: number | null;

  @Field(() => Int, { nullable: true, description: 'UDP port on the clone that must answer.' })
  udpPort!: number | null;

  @Field(() => Int, { description: 'Seconds to wait for it before CONFIGURE fails.' })
  timeoutSeconds!: number;
}

@ObjectType({ description: 'How a clone is reconfigured over SSH after boot: files, then commands, then a readiness check.' })
export class ConfigureRecipe {
  @Field(() => ID, { description: 'The SSH key (one of yours) the broker logs in with; its username is the login.' })
  sshKeyId!: string;

  @Field(() => Int, { description: 'SSH port.' })
  sshPort!: number;

  @Field(() => Boolean, { nullable: true, description: 'Run commands under sudo -n; null: when the key\'s user is not root.' })
  sudo!: boolean | null;

  @Field(() => [RecipeFile], { description: 'Files written first.' })
  files!: RecipeFile[];

  @Field(() => [[String]], { description: 'Commands run next, each an argument vector (never a shell string) whose elements are templates.' })
  commands!: string[][];

  @Field(() => ReadinessCheck, { nullable: true, description: 'Checked last; null: none.' })
  readiness!: ReadinessCheck | null;
}

@ObjectType({ description: 'Which metric a Nagios service feeds.' })
export class MetricMapping {
  @Field({ description: 'Nagios service description.' })
  service!: string;

  @Field({ description: 'Metric name its samples are stored under.' })
  metric!: string;
}

@ObjectType({ description: 'How VMs of the type are registered in one of your Nagios servers and read by the poller.' })
export class MonitoringBinding {
  @Field(() => ID, { description: 'The monitoring server (one of yours).' })
  serverId!: string;

  @Field({ description: `Nagios object definitions written for each VM (define host { host_name {{hostName}} ... } and its services), ${TEMPLATES}; hostName is the rendered hostName below.` })
  hostTemplate!: string;

  @Field({ description: `The VM's Nagios host name, ${TEMPLATES} (default {{vmName}}); the poller finds a VM's services by it.` })
  hostName!: string;

  @Field(() => [MetricMapping], { description: 'Service description -> metric; a service not listed feeds the metric of its own name.' })
  metrics!: MetricMapping[];
}

@ObjectType({ description: 'How VMs of the type are added to one of your SIP load balancers and drained from it.' })
export class LoadBalancerBinding {
  @Field(() => ID, { description: 'The load balancer (one of yours).' })
  loadBalancerId!: string;

  @Field(() => Int, { description: 'Dispatcher set id / load_balancer group id.' })
  setId!: number;

  @Field({ description: `The destination SIP URI, ${TEMPLATES} (default sip:{{fixedIp}}:5060; write sip:[{{fixedIp}}]:5060 for IPv6).` })
  uriTemplate!: string;

  @Field({ description: `Dispatcher attrs / load_balancer resources, ${TEMPLATES} (may be empty).` })
  attrs!: string;

  @Field(() => String, { nullable: true, description: 'Metric that must read zero before a drained VM is deleted (e.g. active calls); null: no wait.' })
  drainMetric!: string | null;

  @Field(() => Int, { description: 'Seconds to wait for the drain metric to reach zero.' })
  drainTimeoutSeconds!: number;

  @Field(() => DrainAction, { description: 'What to do when draining times out.' })
  drainAction!: DrainAction;
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

  @Field({ description: "Whether the autoscaler's scale-down may remove the type's original (imported) VM; false: it removes clones only. Never the last instance either way." })
  scaleDownMayRemoveOriginal!: boolean;

  @Field(() => String, { nullable: true, description: 'Flavor (name or id) for clones, over the cloud default.' })
  flavorHint!: string | null;

  @Field(() => String, { nullable: true, description: 'Network (name or id) for clones, over the cloud default.' })
  networkHint!: string | null;

  @Field(() => ConfigureRecipe, { nullable: true, description: 'Reconfiguration over SSH after a clone boots (CONFIGURE); null: skipped.' })
  configureRecipe!: ConfigureRecipe | null;

  @Field(() => MonitoringBinding, { nullable: true, description: 'Nagios registration (MONITORING) and the poller; null: skipped.' })
  monitoring!: MonitoringBinding | null;

  @Field(() => LoadBalancerBinding, { nullable: true, description: 'SIP load balancer registration (LOAD_BALANCER) and draining; null: skipped.' })
  loadBalancer!: LoadBalancerBinding | null;

  @Field({ description: 'When the VM type was created.' })
  createdAt!: Date;

  @Field({ description: 'When it was last changed.' })
  updatedAt!: Date;
}

@InputType({ description: 'A file rendered from a template onto a clone.' })
export class RecipeFileInput {
  @Field({ description: 'Absolute path, no "..", no control characters and no {{...}} placeholders (a path is used as written); each path once.' })
  path!: string;

  @Field({ description: `File content (at most 64 KiB), ${TEMPLATES}.` })
  template!: string;

  @Field(() => Int, { nullable: true, description: 'File mode (default 420 = 0644).' })
  mode?: number;
}

@InputType({ description: 'What must answer before a clone counts as ready: at least one of command, tcpPort, udpPort.' })
export class ReadinessCheckInput {
  @Field(() => [String], { nullable: true, description: 'Argument vector that must exit 0 (elements are templates).' })
  command?: string[] | null;

  @Field(() => Int, { nullable: true, description: 'TCP port that must accept a connection.' })
  tcpPort?: number | null;

  @Field(() => Int, { nullable: true, description: 'UDP port that must answer.' })
  udpPort?: number | null;

  @Field(() => Int, { nullable: true, description: 'Seconds to wait (1-3600, default 120).' })
  timeoutSeconds?: number;
}

@InputType({ description: 'Reconfiguration over SSH after boot.' })
export class ConfigureRecipeInput {
  @Field(() => ID, { description: 'One of your SSH keys.' })
  sshKeyId!: string;

  @Field(() => Int, { nullable: true, description: 'SSH port (default 22).' })
  sshPort?: number;

  @Field(() => Boolean, { nullable: true, description: 'sudo -n for commands; omit or null: when the key\'s user is not root.' })
  sudo?: boolean | null;

  @Field(() => [RecipeFileInput], { nullable: true, description: 'Files written first (at most 32).' })
  files?: RecipeFileInput[];

  @Field(() => [[String]], { nullable: true, description: 'Commands run next (at most 32), each an argument vector whose elements are templates.' })
  commands?: string[][];

  @Field(() => ReadinessCheckInput, { nullable: true, description: 'Checked last.' })
  readiness?: ReadinessCheckInput | null;
}

@InputType({ description: 'Which metric a Nagios service feeds.' })
export class MetricMappingInput {
  @Field({ description: 'Nagios service description (each once).' })
  service!: string;

  @Field({ description: 'Metric name.' })
  metric!: string;
}

@InputType({ description: 'Nagios registration and polling.' })
export class MonitoringBindingInput {
  @Field(() => ID, { description: 'One of your monitoring servers.' })
  serverId!: string;

  @Field({ description: `Nagios object definitions per VM (at most 64 KiB), ${TEMPLATES}; must use {{hostName}}.` })
  hostTemplate!: string;

  @Field({ nullable: true, description: `The VM's Nagios host name, ${TEMPLATES} (default {{vmName}}).` })
  hostName?: string;

  @Field(() => [MetricMappingInput], { nullable: true, description: 'Service -> metric (default: each service is the metric of its own name).' })
  metrics?: MetricMappingInput[];
}

@InputType({ description: 'SIP load balancer registration and draining.' })
export class LoadBalancerBindingInput {
  @Field(() => ID, { description: 'One of your load balancers.' })
  loadBalancerId!: string;

  @Field(() => Int, { description: 'Set id / group id (0-65535).' })
  setId!: number;

  @Field({ nullable: true, description: `Destination URI, ${TEMPLATES}; must start with sip: or sips: (default sip:{{fixedIp}}:5060).` })
  uriTemplate?: string;

  @Field({ nullable: true, description: `attrs / resources, ${TEMPLATES} (default empty).` })
  attrs?: string;

  @Field(() => String, { nullable: true, description: 'Metric that must read zero before deletion (e.g. active calls).' })
  drainMetric?: string | null;

  @Field(() => Int, { nullable: true, description: 'Default 300.' })
  drainTimeoutSeconds?: number;

  @Field(() => DrainAction, { nullable: true, description: 'Default FORCE_REMOVE.' })
  drainAction?: DrainAction;
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

  @Field(() => Boolean, { nullable: true, description: "Whether the autoscaler's scale-down may remove the original (imported) VM. Default false: clones only." })
  scaleDownMayRemoveOriginal?: boolean;

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
