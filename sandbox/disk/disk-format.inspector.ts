/**
 * What a hypervisor checks before it boots a disk: that the image's bytes are in the format its
 * disk_format declares (Nova's format inspector refuses a mismatch: a "raw" image that is really
 * qcow2 is how a guest gets a host file as its backing file). Reads the header only, so the
 * sandbox recognises images qemu-img wrote (qcow2, vmdk) and treats everything else as raw.
 */
import * as fs from 'node:fs/promises';

export type DetectedFormat = 'qcow2' | 'vmdk' | 'raw';

/** Formats whose content the sandbox checks; others (iso, vhd, ...) boot as declared. */
const CHECKED = new Set<string>(['qcow2', 'vmdk', 'raw']);

export function detectDiskFormat(header: Buffer): DetectedFormat {
  if (header.length >= 4 && header.readUInt32BE(0) === 0x514649fb) return 'qcow2'; // "QFI\xfb"
  if (header.subarray(0, 4).toString('latin1') === 'KDMV') return 'vmdk'; // sparse extent
  if (header.subarray(0, 21).toString('latin1') === '# Disk DescriptorFile') return 'vmdk';
  return 'raw';
}

/** Why the image file cannot boot as `declared`, or null when it can. */
export async function diskFormatMismatch(file: string, declared: string | null): Promise<string | null> {
  if (declared === null || !CHECKED.has(declared)) return null;
  const handle = await fs.open(file, 'r');
  try {
    const header = Buffer.alloc(512);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    const detected = detectDiskFormat(header.subarray(0, bytesRead));
    return detected === declared ? null : `Image disk_format is ${declared} but its content is ${detected}`;
  } finally {
    await handle.close();
  }
}
