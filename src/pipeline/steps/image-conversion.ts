/**
 * TRANSFER with a disk format conversion, on the target side: download the source image into
 * the job's spool folder (sha512 checked against the source's os_hash_value on the way), qemu-img
 * convert it, upload the result under the target's format and record its sha512 for IMPORT.
 * Free space is checked before each write; the spool folder is removed whatever happens (and by
 * the step's undo, for an attempt that died here).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConvertibleDiskFormat } from '../../domain/disk-formats';
import { formatBytes } from '../../domain/matchmaking';
import { Image } from '../../ports/cloud-api.port';
import { ConversionSettings, convertImageFile, ensureSpoolSpace, inspectImageFile, jobSpoolDir, removeJobSpool } from '../../transfer/disk-conversion';
import { TransferHashMode } from '../../transfer/sha512-worker';
import { CloneContext } from '../clone-step';
import { assertSourceDigest, hashedCopy } from './hashed-copy';

export interface ConversionJob {
  sourceImage: Image;
  targetImageId: string;
  from: ConvertibleDiskFormat;
  to: ConvertibleDiskFormat;
  hashMode: TransferHashMode;
  settings: ConversionSettings;
}

export async function convertAndUpload(ctx: CloneContext, job: ConversionJob): Promise<void> {
  const { sourceImage, from, to, settings } = job;
  const dir = jobSpoolDir(settings, ctx.job.id);
  // What an earlier attempt left is of no use: its download may be partial.
  await removeJobSpool(settings, ctx.job.id);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const input = path.join(dir, `source.${from}`);
  const output = path.join(dir, `converted.${to}`);
  try {
    const download = await ctx.source.api.downloadImage(sourceImage.id, ctx.signal);
    const total = download.size ?? sourceImage.size;
    // The output is rarely smaller than the input: ask for room for both before the first byte.
    await ensureSpoolSpace(dir, 2 * (total ?? 0), settings.reserveBytes, `spool the ${from} image for its conversion to ${to}`).catch((err) => {
      download.stream.destroy();
      throw err;
    });
    await ctx.note(`converting ${from} -> ${to} on the target side (spool ${total === null ? 'of unknown size' : formatBytes(total)} in ${dir})`);
    const { digest } = await hashedCopy(download.stream, total, job.hashMode, (body) => pipeline(body, createWriteStream(input, { mode: 0o600 })), (bytes) =>
      ctx.progress(bytes, total),
    );
    await ctx.progressSettled();
    assertSourceDigest(ctx, sourceImage, digest);

    const { virtualSize } = await inspectImageFile(input, from, ctx.signal);
    // The converted image holds at most the virtual disk (raw output is sparse, so usually less).
    await ensureSpoolSpace(dir, virtualSize, settings.reserveBytes, `write the ${to} image (virtual size ${formatBytes(virtualSize)})`);
    await ctx.note(`converting ${from} -> ${to} with qemu-img (virtual size ${formatBytes(virtualSize)})`);
    const startedAt = Date.now();
    await convertImageFile({ file: input, format: from }, { file: output, format: to }, settings.timeoutMs, ctx.signal);
    await fs.rm(input, { force: true });

    const size = (await fs.stat(output)).size;
    await ctx.note(`converted ${from} -> ${to} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: uploading ${formatBytes(size)} as ${to}`);
    const upload = (body: Readable) => ctx.target.api.uploadImage(job.targetImageId, body, size, ctx.signal);
    const uploaded = await hashedCopy(createReadStream(output, { highWaterMark: 1024 * 1024 }), size, job.hashMode, upload, () => undefined);
    // IMPORT compares the target Glance's os_hash_value with this, not with the source's.
    await ctx.checkpoint({ targetImageHash: uploaded.digest });
    ctx.log.info({ targetImageId: job.targetImageId, from, to, sourceBytes: total, convertedBytes: size }, 'image converted, transferred and verified');
  } finally {
    await removeJobSpool(settings, ctx.job.id);
  }
}
