/**
 * Format conversion by the target-side transfer agent (`POST /v1/target/convert`): when the target
 * cloud does not take the source's disk format, the agent beside it rebuilds the image from the
 * tenant's chunk store into a spool file, converts it with qemu-img and uploads the result to the
 * target Glance, so the image never crosses the intercloud link twice and the broker holds no
 * spool. qcow2 and vmdk need random access, hence the file (disk-conversion.ts says why).
 *
 * The rebuild writes chunks at their offsets and leaves all-zero chunks as holes (a sparse file:
 * the zeros cost no disk and no writes), while hashing the whole image in order: that sha512 is
 * the source image's bytes as rebuilt, which must equal the source's os_hash_value before anything
 * is converted. The converted file is hashed as it is uploaded; the broker records that sha512
 * for IMPORT, which compares it with the os_hash_value the target Glance computed.
 *
 * One folder per job (named by the job id from the signed token), free space checked before each
 * write, removed whatever happens; qemu-img only through disk-conversion.ts (argument arrays,
 * allow-listed formats, no backing files).
 */
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { ConvertibleDiskFormat } from '../domain/disk-formats';
import { PermanentStepError, StepErrorCode } from '../domain/clone-phase';
import { formatBytes } from '../domain/matchmaking';
import { hashedCopy } from '../pipeline/steps/hashed-copy';
import { ChunkCodecPool, MAX_CHUNK_BYTES } from './chunk-codec';
import { ChunkScope, ChunkStore } from './chunk-store';
import { CommitRequest, GlanceImageAccess, manifestProblem, storedChunksInOrder } from './chunk-transfer';
import { ConversionSettings, convertImageFile, ensureSpoolSpace, inspectImageFile, jobSpoolDir, removeJobSpool } from './disk-conversion';
import { createSha512Hasher } from './sha512-worker';

export interface TargetConversionRequest extends CommitRequest {
  from: ConvertibleDiskFormat;
  to: ConvertibleDiskFormat;
  /** The source image's os_hash_value: the rebuilt image must hash to it before it is converted (null: not checked here). */
  expectSha512: string | null;
}

/** What the agent reports while it works (the broker turns these into the job's events). */
export type ConversionEvent =
  | { stage: 'spooling'; spoolDir: string; bytes: number }
  | { stage: 'converting'; virtualSize: number }
  | { stage: 'uploading'; convertedBytes: number; seconds: number };

export interface TargetConversionDone {
  ok: true;
  /** Bytes uploaded to the target Glance (the converted image). */
  uploadedBytes: number;
  /** sha512 of the image rebuilt from the chunks, before conversion. */
  sourceSha512: string;
  /** sha512 of the converted image as uploaded. */
  sha512: string;
  spoolDir: string;
  virtualSize: number;
}

export type TargetConversionResult = TargetConversionDone | { ok: false; missing: string[] };

export interface TargetConversionOptions {
  store: ChunkStore;
  scope: ChunkScope;
  pool: ChunkCodecPool;
  settings: ConversionSettings;
  jobId: string;
  req: TargetConversionRequest;
  glance: GlanceImageAccess;
  onEvent: (e: ConversionEvent) => void;
  signal?: AbortSignal;
}

export async function convertOnTarget(o: TargetConversionOptions): Promise<TargetConversionResult> {
  const { req, settings } = o;
  const problem = manifestProblem(req.size, req.manifest);
  if (problem) throw new Error(problem);
  const missing = await o.store.missing(o.scope, [...new Set(req.manifest.map((e) => e.hash).filter((h): h is string => h !== null))]);
  if (missing.length > 0) return { ok: false, missing };

  const dir = jobSpoolDir(settings, o.jobId);
  // What an earlier attempt left is of no use: its rebuild may be partial.
  await removeJobSpool(settings, o.jobId);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const input = path.join(dir, `source.${req.from}`);
  const output = path.join(dir, `converted.${req.to}`);
  try {
    // The output is rarely smaller than the input: ask for room for both before the first byte.
    await agentSpoolSpace(dir, 2 * req.size, settings.reserveBytes, `spool the ${req.from} image for its conversion to ${req.to}`);
    o.onEvent({ stage: 'spooling', spoolDir: dir, bytes: req.size });
    const sourceSha512 = await rebuildToFile(o, input);
    if (req.expectSha512 !== null && sourceSha512 !== req.expectSha512) {
      throw new PermanentStepError(
        StepErrorCode.CHECKSUM_MISMATCH,
        `the image rebuilt from its chunks on the target agent hashes to ${sourceSha512.slice(0, 16)}..., not the source image's os_hash_value (${req.expectSha512.slice(0, 16)}...)`,
      );
    }

    const { virtualSize } = await inspectImageFile(input, req.from, o.signal);
    // The converted image holds at most the virtual disk (raw output is sparse, so usually less).
    await agentSpoolSpace(dir, virtualSize, settings.reserveBytes, `write the ${req.to} image (virtual size ${formatBytes(virtualSize)})`);
    o.onEvent({ stage: 'converting', virtualSize });
    const startedAt = Date.now();
    await convertImageFile({ file: input, format: req.from }, { file: output, format: req.to }, settings.timeoutMs, o.signal);
    await fs.rm(input, { force: true });

    const size = (await fs.stat(output)).size;
    o.onEvent({ stage: 'uploading', convertedBytes: size, seconds: (Date.now() - startedAt) / 1000 });
    const uploaded = await hashedCopy(createReadStream(output, { highWaterMark: 1024 * 1024 }), size, 'worker', (body) => putImage(o.glance, body, size, o.signal), () => undefined);
    return { ok: true, uploadedBytes: size, sourceSha512, sha512: uploaded.digest, spoolDir: dir, virtualSize };
  } finally {
    await removeJobSpool(settings, o.jobId);
  }
}

/**
 * Writes the image from the store into `file` (zero chunks left as holes) and returns its sha512,
 * hashed in order on a worker thread; the chunks come from storedChunksInOrder (read ahead,
 * a damaged one evicted), as for a plain upload.
 */
async function rebuildToFile(o: TargetConversionOptions, file: string): Promise<string> {
  const { req, store, scope, pool } = o;
  const zeros = Buffer.alloc(MAX_CHUNK_BYTES);
  const hasher = createSha512Hasher('worker');
  const fh = await fs.open(file, 'w', 0o600);
  try {
    // Chunks are content-defined (chunk-codec.ts): each entry says its size, offsets are their running sum.
    let i = 0;
    let offset = 0;
    for await (const raw of storedChunksInOrder(store, scope, pool, req.manifest)) {
      o.signal?.throwIfAborted();
      const size = req.manifest[i++].size;
      if (raw === null) {
        await hasher.update(zeros.subarray(0, size)); // left as a hole in the file
      } else {
        await hasher.update(raw);
        await fh.write(raw, 0, raw.length, offset);
      }
      offset += size;
    }
    await fh.truncate(req.size);
    return await hasher.digest();
  } finally {
    await fh.close();
    await hasher.close();
  }
}

/** ensureSpoolSpace, naming the agent's own setting (the shared message names the broker's). */
async function agentSpoolSpace(dir: string, neededBytes: number, reserveBytes: number, what: string): Promise<void> {
  try {
    await ensureSpoolSpace(dir, neededBytes, reserveBytes, what);
  } catch (err) {
    if (err instanceof PermanentStepError && err.code === StepErrorCode.SPOOL_SPACE) {
      throw new PermanentStepError(StepErrorCode.SPOOL_SPACE, err.message.replace('TRANSFER_SPOOL_RESERVE_BYTES', 'AGENT_SPOOL_RESERVE_BYTES on the agent'));
    }
    throw err;
  }
}

async function putImage(glance: GlanceImageAccess, body: Readable, size: number, signal?: AbortSignal): Promise<void> {
  const res = await request(glance.url, {
    method: 'PUT',
    headers: { 'x-auth-token': glance.token, 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body,
    signal,
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`target Glance answered ${res.statusCode} to the upload of the converted image: ${text.slice(0, 200)}`);
}
