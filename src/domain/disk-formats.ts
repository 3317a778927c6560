/**
 * Which disk format a clone's image gets in the target cloud: the source's when the target takes
 * it, else one the broker converts to with qemu-img on the target side. Pure; the TRANSFER step
 * and the matchmaker share it, so a cloud the matchmaker lets in is one the transfer can serve.
 */

/**
 * The formats the broker converts between. An allow-list: no other format string ever reaches
 * qemu-img's command line (a disk_format is a partner cloud's value, so hostile until checked).
 */
export const CONVERTIBLE_DISK_FORMATS = ['qcow2', 'raw', 'vmdk'] as const;
export type ConvertibleDiskFormat = (typeof CONVERTIBLE_DISK_FORMATS)[number];

export function isConvertibleDiskFormat(format: unknown): format is ConvertibleDiskFormat {
  return typeof format === 'string' && (CONVERTIBLE_DISK_FORMATS as readonly string[]).includes(format);
}

/**
 * Output preference when converting: qcow2 leaves unallocated (zero) clusters out of the upload,
 * raw is what every hypervisor reads, vmdk is the last resort.
 */
const OUTPUT_PREFERENCE: readonly ConvertibleDiskFormat[] = ['qcow2', 'raw', 'vmdk'];

export type DiskFormatPlan =
  /** The target takes the source's format (or either side did not say): the bytes go as they are. */
  | { kind: 'as-is' }
  | { kind: 'convert'; from: ConvertibleDiskFormat; to: ConvertibleDiskFormat }
  | { kind: 'impossible'; reason: string };

/**
 * `sourceFormat`: the source image's disk_format (null when unknown); `targetFormats`: the target
 * cloud's declared diskFormats (empty: not declared, anything goes).
 */
export function planDiskFormat(sourceFormat: string | null, targetFormats: readonly string[]): DiskFormatPlan {
  if (sourceFormat === null || targetFormats.length === 0 || targetFormats.includes(sourceFormat)) return { kind: 'as-is' };
  const accepts = targetFormats.join(', ');
  if (!isConvertibleDiskFormat(sourceFormat)) {
    return { kind: 'impossible', reason: `takes disk formats ${accepts}, not ${sourceFormat}, and ${sourceFormat} cannot be converted (only ${CONVERTIBLE_DISK_FORMATS.join(', ')})` };
  }
  const to = OUTPUT_PREFERENCE.find((f) => targetFormats.includes(f));
  if (!to) return { kind: 'impossible', reason: `takes disk formats ${accepts}, none of which ${sourceFormat} converts to (${CONVERTIBLE_DISK_FORMATS.join(', ')})` };
  return { kind: 'convert', from: sourceFormat, to };
}
