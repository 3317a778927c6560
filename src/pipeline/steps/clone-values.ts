/**
 * The template values of the clone a job is making, before its VM row exists: its future VM id
 * (fixed when the job was created), its name, the addresses BOOT and NETWORK found, its cloud.
 */
import { TemplateValues } from '../../domain/template';
import { vmTemplateValues } from '../../domain/template-values';
import { CloneContext } from '../clone-step';

export function cloneTemplateValues(ctx: CloneContext): TemplateValues {
  return vmTemplateValues({
    vm: { id: ctx.artefacts.cloneVmId ?? ctx.job.id, name: ctx.job.name, addresses: ctx.artefacts.addresses ?? [], cloneJobId: ctx.job.id },
    cloudName: ctx.target.cloud.name,
    vmTypeName: ctx.vmType?.name ?? '',
    sourceVm: ctx.source.vm,
    jobId: ctx.job.id,
  });
}

/** Where the broker reaches the clone: its floating address when it has one, else its fixed one. */
export function cloneAddress(ctx: CloneContext): string | null {
  const addresses = ctx.artefacts.addresses ?? [];
  return (addresses.find((a) => a.kind === 'floating' && a.version === 4) ?? addresses.find((a) => a.kind === 'floating') ?? addresses.find((a) => a.version === 4) ?? addresses[0])?.address ?? null;
}
