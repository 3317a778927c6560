/**
 * Disk format conversion with qemu-img, on the target side of a transfer. qcow2 and vmdk need
 * random access (qemu-img reads tables before data and cannot write to a pipe), so the image is
 * spooled to a file first: one folder per job, checked for free space before each write, removed
 * whatever happens. qemu-img runs as an argument array with a timeout, only ever with formats from
 * the allow-list, and only on images without backing or external data files (a hostile image
 * naming a host file as its backing file would otherwise copy that file into the clone).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PermanentStepError, StepErrorCode } from '../domain/clone-phase';
import { ConvertibleDiskFormat, isConvertibleDiskFormat } from '../domain/disk-formats';
import { formatBytes } from '../domain/matchmaking';

export interface ConversionSettings {
  /** Where spool files go; each job gets its own subfolder (TRANSFER_SPOOL_DIR). */
  spoolDir: string;
  /** Free space left untouched on the spool's filesystem beyond what a conversion needs (TRANSFER_SPOOL_RESERVE_BYTES). */
  reserveBytes: number;
  /** Upper bound of one qemu-img run (TRANSFER_CONVERT_TIMEOUT_SECONDS). */
  timeoutMs: number;
}

export const DEFAULT_CONVERSION_SETTINGS: ConversionSettings = {
  spoolDir: path.join(os.tmpdir(), 'intercloud-spool'),
  reserveBytes: 256 * 1024 ** 2,
  timeoutMs: 30 * 60_000,
};

/** What qemu-img's own output is allowed to be: `info --output=json` is a few KiB. */
const QEMU_IMG_MAX_OUTPUT = 1024 * 1024;
/** qemu-img info reads headers only; a hostile image must not keep it busy for the whole conversion timeout. */
const INFO_TIMEOUT_MS = 30_000;
/** vmdk subformats that are a single self-contained file (others name extent files on the host). */
const SELF_CONTAINED_VMDK = new Set(['monolithicSparse', 'streamOptimized', 'monolithicFlat']);

/** The job's spool folder: fixed by the job id, so an undo after a crash finds what an attempt left. */
export function jobSpoolDir(settings: ConversionSettings, jobId: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(jobId)) throw new Error(`job id ${JSON.stringify(jobId)} is not usable as a folder name`);
  return path.join(settings.spoolDir, `job-${jobId}`);
}

export async function removeJobSpool(settings: ConversionSettings, jobId: string): Promise<void> {
  await fs.rm(jobSpoolDir(settings, jobId), { recursive: true, force: true });
}

/** Throws SPOOL_SPACE unless `neededBytes` plus the reserve are free on the filesystem holding `dir`. */
export async function ensureSpoolSpace(dir: string, neededBytes: number, reserveBytes: number, what: string): Promise<void> {
  const stats = await fs.statfs(dir);
  const free = stats.bavail * stats.bsize;
  if (free < neededBytes + reserveBytes) {
    throw new PermanentStepError(
      StepErrorCode.SPOOL_SPACE,
      `not enough free disk space in ${dir} to ${what}: needs ${formatBytes(neededBytes)} plus a reserve of ${formatBytes(reserveBytes)} (TRANSFER_SPOOL_RESERVE_BYTES), ${formatBytes(free)} free`,
    );
  }
}

export interface ImageFileInfo {
  virtualSize: number;
}

/**
 * qemu-img info of a spooled image read as `format` (never probed: a raw image whose bytes look
 * like qcow2 stays raw). Refuses what the broker will not convert: backing files, external data
 * files, vmdk descriptors naming other files.
 */
export async function inspectImageFile(file: string, format: ConvertibleDiskFormat, signal?: AbortSignal): Promise<ImageFileInfo> {
  const out = await qemuImg(['info', '--output=json', '-f', checkedFormat(format), file], INFO_TIMEOUT_MS, signal);
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(out) as Record<string, unknown>;
  } catch {
    throw new PermanentStepError(StepErrorCode.CONVERSION_FAILED, `qemu-img info gave no JSON for the ${format} image`);
  }
  const refuse = (why: string) => new PermanentStepError(StepErrorCode.CONVERSION_FAILED, `the source image is a ${format} image ${why}: the broker does not convert it`);
  if (info['backing-filename'] !== undefined || info['full-backing-filename'] !== undefined) throw refuse('with a backing file');
  const specific = (info['format-specific'] as { data?: Record<string, unknown> } | undefined)?.data ?? {};
  if (specific['data-file'] !== undefined) throw refuse('with an external data file');
  if (format === 'vmdk') {
    const createType = String(specific['create-type'] ?? '');
    const extents = Array.isArray(specific.extents) ? specific.extents.length : 1;
    if (!SELF_CONTAINED_VMDK.has(createType) || extents !== 1) throw refuse(`of subformat ${createType || 'unknown'} with ${extents} extents`);
  }
  const virtualSize = info['virtual-size'];
  if (typeof virtualSize !== 'number' || !Number.isSafeInteger(virtualSize) || virtualSize <= 0) throw refuse('without a usable virtual size');
  return { virtualSize };
}

/** qemu-img convert of one spooled file into another; raw output is sparse (zeros unallocated). */
export async function convertImageFile(
  input: { file: string; format: ConvertibleDiskFormat },
  output: { file: string; format: ConvertibleDiskFormat },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  await qemuImg(['convert', '-f', checkedFormat(input.format), '-O', checkedFormat(output.format), input.file, output.file], timeoutMs, signal);
}

function checkedFormat(format: string): ConvertibleDiskFormat {
  // The types say so already; this keeps a value that slipped past them off the command line.
  if (!isConvertibleDiskFormat(format)) throw new PermanentStepError(StepErrorCode.DISK_FORMAT_UNSUPPORTED, `disk format ${JSON.stringify(format)} is not one the broker converts`);
  return format;
}

function qemuImg(args: string[], timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('qemu-img', args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: QEMU_IMG_MAX_OUTPUT, signal, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.name === 'AbortError') return reject(err);
      if (e.code === 'ENOENT') {
        return reject(new PermanentStepError(StepErrorCode.CONVERSION_FAILED, 'qemu-img is not installed on the broker (Debian: apt-get install qemu-utils)'));
      }
      if (e.killed) return reject(new PermanentStepError(StepErrorCode.CONVERSION_FAILED, `qemu-img ${args[0]} did not finish within ${Math.round(timeoutMs / 1000)} s`));
      const detail = String(stderr).trim().split('\n').slice(-3).join(' ').slice(0, 500);
      reject(new PermanentStepError(StepErrorCode.CONVERSION_FAILED, `qemu-img ${args[0]} failed: ${detail || e.message}`));
    });
  });
}
