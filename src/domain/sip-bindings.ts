/**
 * What a VM type's bindings mean for one VM, as pure functions shared by the pipeline steps
 * (CONFIGURE, MONITORING, LOAD_BALANCER, scale-down) and the monitoring poller: the rendered
 * recipe, the Nagios host name and file, the load-balancer destination, the metric a Nagios
 * service feeds, and the host key a VM is expected to present.
 */
import { HostKeySource } from './enums';
import { ConfigureRecipe, LoadBalancerBinding, MonitoringBinding, ReadinessCheck } from './entities/vm-type.entity';
import { hasControlCharacter, renderTemplate, TemplateRenderError, TemplateValues } from './template';

export const DEFAULT_HOST_NAME_TEMPLATE = '{{vmName}}';
export const DEFAULT_URI_TEMPLATE = 'sip:{{fixedIp}}:5060';

export interface RenderedRecipe {
  files: { path: string; content: string; mode: number }[];
  commands: string[][];
  readiness: (Omit<ReadinessCheck, 'command'> & { command: string[] | null }) | null;
}

/** Every file, command argument and readiness argument rendered for one VM; throws TemplateRenderError. */
export function renderRecipe(recipe: ConfigureRecipe, values: TemplateValues): RenderedRecipe {
  const argv = (args: readonly string[]) => args.map((a) => renderTemplate(a, values, 'recipe'));
  return {
    files: recipe.files.map((f) => ({ path: f.path, content: renderTemplate(f.template, values, 'recipe'), mode: f.mode })),
    commands: recipe.commands.map(argv),
    readiness: recipe.readiness ? { ...recipe.readiness, command: recipe.readiness.command ? argv(recipe.readiness.command) : null } : null,
  };
}

/** The VM's Nagios host name: how MONITORING names the host and how the poller finds it. Throws TemplateRenderError. */
export function nagiosHostNameOf(binding: Pick<MonitoringBinding, 'hostName'>, values: TemplateValues): string {
  const rendered = renderTemplate(binding.hostName, values, 'nagiosHostName');
  // Checked as the hostName variable's type: it becomes a Nagios object name and a file name.
  renderTemplate('{{hostName}}', { hostName: rendered }, 'nagiosHost');
  return rendered;
}

export interface RenderedNagiosHost {
  hostName: string;
  /** `<hostName>.cfg`, in the server's configDir. */
  fileName: string;
  content: string;
}

/** The Nagios object definitions the MONITORING step writes for one VM. Throws TemplateRenderError. */
export function renderNagiosHost(binding: MonitoringBinding, values: TemplateValues): RenderedNagiosHost {
  const hostName = nagiosHostNameOf(binding, values);
  return { hostName, fileName: `${hostName}.cfg`, content: renderTemplate(binding.hostTemplate, { ...values, hostName }, 'nagiosHost') };
}

/** The metric a Nagios service description feeds: the binding's mapping, else the description itself. */
export function metricOf(binding: Pick<MonitoringBinding, 'metrics'>, service: string): string {
  return binding.metrics.find((m) => m.service === service)?.metric ?? service;
}

export interface RenderedDestination {
  setId: number;
  uri: string;
  attrs: string;
}

/** The load-balancer destination of one VM. Throws TemplateRenderError when the URI is not a SIP URI. */
export function renderDestination(binding: LoadBalancerBinding, values: TemplateValues): RenderedDestination {
  const uri = renderTemplate(binding.uriTemplate, values, 'loadBalancer');
  if (!/^sips?:[^\s]+$/.test(uri) || uri.length > 255 || hasControlCharacter(uri)) {
    throw new TemplateRenderError('uriTemplate', `the destination ${JSON.stringify(uri.slice(0, 80))} is not a SIP URI (sip: or sips:, no spaces, at most 255 characters)`);
  }
  const attrs = renderTemplate(binding.attrs, values, 'loadBalancer');
  if (attrs.length > 255 || hasControlCharacter(attrs)) throw new TemplateRenderError('attrs', 'the rendered attrs must be at most 255 characters without control characters');
  return { setId: binding.setId, uri, attrs };
}

export interface VmHostKeyColumns {
  sshHostKeyFingerprint: string | null;
  sshHostKeyAlgorithm: string | null;
  sshHostKeySource: HostKeySource | null;
}

/** The key a VM must present over SSH, or null when none is pinned (CONFIGURE refuses to run then). */
export function pinnedHostKeyOf(vm: VmHostKeyColumns): { algorithm: string | null; fingerprint: string } | null {
  return vm.sshHostKeyFingerprint ? { algorithm: vm.sshHostKeyAlgorithm, fingerprint: vm.sshHostKeyFingerprint } : null;
}

/** The host key columns of a clone of `source`: it carries the source's disk, host keys included. */
export function inheritedHostKey(source: VmHostKeyColumns): VmHostKeyColumns {
  return source.sshHostKeyFingerprint
    ? { sshHostKeyFingerprint: source.sshHostKeyFingerprint, sshHostKeyAlgorithm: source.sshHostKeyAlgorithm, sshHostKeySource: HostKeySource.CLONED }
    : { sshHostKeyFingerprint: null, sshHostKeyAlgorithm: null, sshHostKeySource: null };
}
