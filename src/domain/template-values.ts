/**
 * The template variables of one VM, built the same way wherever a template is rendered for it
 * (CONFIGURE, MONITORING, LOAD_BALANCER, the monitoring poller matching Nagios host names), so
 * a host name written into Nagios is the one the poller looks for. Pure: the caller passes rows.
 * Values are not checked here; renderTemplate checks each one it uses against its type.
 */
import { TemplateValues } from './template';

export interface AddressLike {
  address: string;
  /** `fixed` or `floating`, as Nova reports it. */
  kind: string;
  version: number;
}

export interface VmLike {
  id: string;
  name: string;
  addresses: readonly AddressLike[];
  cloneJobId: string | null;
}

export interface VmTemplateFacts {
  vm: VmLike;
  cloudName: string;
  vmTypeName: string;
  /** For a clone: the VM it was cloned from. */
  sourceVm?: Pick<VmLike, 'addresses'> | null;
  /** The clone job being run, when it differs from (or precedes) vm.cloneJobId. */
  jobId?: string | null;
}

/** The first address of `kind`, preferring IPv4 (SIP and Nagios configurations mostly expect it). */
export function addressOf(addresses: readonly AddressLike[], kind: 'fixed' | 'floating'): string | null {
  const ofKind = addresses.filter((a) => a.kind === kind);
  return (ofKind.find((a) => a.version === 4) ?? ofKind[0])?.address ?? null;
}

export function vmTemplateValues(facts: VmTemplateFacts): TemplateValues {
  const { vm } = facts;
  const fixedIp = addressOf(vm.addresses, 'fixed');
  const floatingIp = addressOf(vm.addresses, 'floating');
  return {
    fixedIp,
    floatingIp,
    publicIp: floatingIp ?? fixedIp,
    sourceFixedIp: facts.sourceVm ? addressOf(facts.sourceVm.addresses, 'fixed') : fixedIp,
    hostname: vm.name.toLowerCase(),
    cloudName: facts.cloudName,
    vmName: vm.name,
    vmId: vm.id,
    vmTypeName: facts.vmTypeName,
    jobId: facts.jobId ?? vm.cloneJobId,
  };
}
