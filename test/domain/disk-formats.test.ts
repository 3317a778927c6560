/** Which disk format a clone gets in the target cloud, and the matchmaker's single rule on it. */
import { CONVERTIBLE_DISK_FORMATS, planDiskFormat } from '../../src/domain/disk-formats';
import { diskFormatAcceptance } from '../../src/domain/matchmaking';

describe('planDiskFormat', () => {
  it('keeps the format the target takes, or when either side did not say', () => {
    expect(planDiskFormat('qcow2', ['qcow2', 'raw'])).toEqual({ kind: 'as-is' });
    expect(planDiskFormat(null, ['raw'])).toEqual({ kind: 'as-is' });
    expect(planDiskFormat('vmdk', [])).toEqual({ kind: 'as-is' });
  });

  it('converts into the preferred format the target takes: qcow2, then raw, then vmdk', () => {
    expect(planDiskFormat('qcow2', ['raw'])).toEqual({ kind: 'convert', from: 'qcow2', to: 'raw' });
    expect(planDiskFormat('vmdk', ['raw', 'qcow2'])).toEqual({ kind: 'convert', from: 'vmdk', to: 'qcow2' });
    expect(planDiskFormat('raw', ['iso', 'vmdk'])).toEqual({ kind: 'convert', from: 'raw', to: 'vmdk' });
  });

  it('refuses what qemu-img is not allowed to touch, naming the formats', () => {
    expect(planDiskFormat('vhd', ['raw'])).toEqual({ kind: 'impossible', reason: `takes disk formats raw, not vhd, and vhd cannot be converted (only ${CONVERTIBLE_DISK_FORMATS.join(', ')})` });
    expect(planDiskFormat('qcow2', ['iso', 'vhd'])).toEqual({ kind: 'impossible', reason: 'takes disk formats iso, vhd, none of which qcow2 converts to (qcow2, raw, vmdk)' });
    expect(planDiskFormat('-O raw', ['raw'])).toMatchObject({ kind: 'impossible' });
  });
});

describe('diskFormatAcceptance (matchmaker)', () => {
  it('lets a cloud in as it is, with a note when the image is converted there, or excludes it with the reason', () => {
    expect(diskFormatAcceptance('raw', ['qcow2', 'raw'])).toEqual({ ok: true, note: null });
    expect(diskFormatAcceptance('qcow2', ['raw'])).toEqual({ ok: true, note: 'converted from qcow2 to raw on the target side' });
    expect(diskFormatAcceptance('vhd', ['raw'])).toEqual({ ok: false, reason: expect.stringContaining('vhd cannot be converted') });
  });
});
