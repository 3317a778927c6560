/**
 * The chunked transfer's two sides, used alike by an agent process and by the broker when it
 * plays a side itself:
 *
 * - source (`sendImage`): reads the source Glance image span by span (SPAN_BYTES, parallel Range
 *   reads when Glance supports them), encodes each span's chunks on the codec pool, asks the
 *   target once per span which of them it lacks, sends only those in framed batches, several
 *   spans in flight, then returns the ordered manifest for the broker to commit;
 * - target (`LocalChunkTarget`): verifies and stores batches of chunks in the tenant's store, and on commit
 *   rebuilds the image in order from the store and uploads it to the target Glance, which
 *   computes its own os_hash_value for IMPORT to compare with the source's. Before the source
 *   sends, it can index an image already in its own Glance (`index`: the tenant's earlier copy
 *   of the VM type), cut exactly as the source cuts, so only what changed crosses the link.
 *
 * A transfer run again after a crash of either side finds the chunks already stored and sends
 * only the others: the store is the resume point.
 */
import { Readable } from 'node:stream';
import { request } from 'undici';
import { AVG_CHUNK_BYTES, BatchChunk, ChunkCodecPool, ChunkIntegrityError, CHUNK_HASH, MAX_BATCH_BYTES, MAX_BATCH_HASHES, MAX_CHUNK_BYTES, SPAN_BYTES } from './chunk-codec';
import { ChunkScope, ChunkStore } from './chunk-store';

/** Where a side reads or writes the image: a Glance image-data URL and a short-lived Keystone token. */
export interface GlanceImageAccess {
  url: string;
  token: string;
}

/**
 * Manifest entry: a chunk's sha256 (null for an all-zero chunk) and its length in bytes (1 to
 * MAX_CHUNK_BYTES; content-defined chunks vary). A chunk's offset is the sum of the lengths
 * before it, and the lengths add up to the image size.
 */
export interface ManifestEntry {
  hash: string | null;
  size: number;
}

/** Why a manifest cannot describe an image of `size` bytes, or null when it can. Its entries come from a partner: checked one by one. */
export function manifestProblem(size: number, manifest: unknown): string | null {
  if (!Array.isArray(manifest)) return 'manifest must be a list of { hash, size } entries';
  let total = 0;
  for (let i = 0; i < manifest.length; i++) {
    const e = manifest[i] as Partial<ManifestEntry> | null;
    if (typeof e !== 'object' || e === null) return `manifest entry ${i} must be { hash, size }`;
    if (e.hash !== null && !(typeof e.hash === 'string' && CHUNK_HASH.test(e.hash))) return `manifest entry ${i}: hash must be a sha256 hex name or null (a zero chunk)`;
    if (typeof e.size !== 'number' || !Number.isInteger(e.size) || e.size < 1 || e.size > MAX_CHUNK_BYTES) return `manifest entry ${i}: size must be 1 to ${MAX_CHUNK_BYTES} bytes`;
    total += e.size;
  }
  if (total !== size) return `manifest's chunks add up to ${total} bytes, the image has ${size}`;
  return null;
}

/** The image in order; the target side knows (from its own job scope) which Glance image it fills. */
export interface CommitRequest {
  size: number;
  manifest: ManifestEntry[];
}

export type CommitResult = { ok: true; uploadedBytes: number } | { ok: false; missing: string[] };

/** The target side as the source sees it: in this process, or an agent over HTTP. */
export interface ChunkTarget {
  /** Those of `hashes` (at most MAX_BATCH_HASHES) the target lacks. */
  missing(hashes: string[]): Promise<string[]>;
  /** Stores a batch (at most MAX_BATCH_HASHES chunks, MAX_BATCH_BYTES of frames), each verified first. */
  putMany(chunks: BatchChunk[]): Promise<void>;
  /** Uploads the image rebuilt from the store to `glance`, or names the chunks the store lacks. */
  commit(req: CommitRequest, glance: GlanceImageAccess): Promise<CommitResult>;
  /**
   * Reads an image already in the target's own Glance (an earlier clone or a standby of the same
   * VM type, the job's tenant's) and stores its chunks, so the source then sends only what differs.
   */
  index(base: GlanceImageAccess & { size: number }): Promise<IndexResult>;
}

/** What indexing a base image did. */
export interface IndexResult {
  /** Image bytes read and cut (less than the image when the budget ran out). */
  readBytes: number;
  /** Chunks and frame bytes the store did not hold yet, now stored. */
  storedChunks: number;
  storedBytes: number;
  /** Stopped at the budget (half the store's AGENT_CACHE_BYTES) before the image's end. */
  truncated: boolean;
}

/** What a transfer did; the savings are in image bytes. */
export interface TransferStats {
  imageBytes: number;
  /** Image bytes read and chunked so far. */
  processedBytes: number;
  /** Frame bytes sent to the target (the intercloud link). */
  linkBytes: number;
  /** Image bytes in all-zero chunks (sent as markers). */
  zeroBytes: number;
  /** Image bytes of chunks the target already had, or that repeat within the image. */
  dedupBytes: number;
  /** Image bytes of the chunks sent; with linkBytes, the compression ratio. */
  sentRawBytes: number;
  chunks: number;
  chunksSent: number;
}

export const emptyStats = (imageBytes: number): TransferStats => ({
  imageBytes,
  processedBytes: 0,
  linkBytes: 0,
  zeroBytes: 0,
  dedupBytes: 0,
  sentRawBytes: 0,
  chunks: 0,
  chunksSent: 0,
});

export interface SendOptions {
  source: GlanceImageAccess & { size: number };
  target: ChunkTarget;
  pool: ChunkCodecPool;
  /** Spans read, encoded or sent at once (also the bound of what a crash can make resend). */
  concurrency?: number;
  onProgress?: (stats: TransferStats) => void;
  signal?: AbortSignal;
}

/**
 * The source side: sends the image's chunks the target lacks and returns the ordered manifest,
 * which the broker then commits on the target side (the source never holds the target's Glance token).
 */
export async function sendImage(o: SendOptions): Promise<{ stats: TransferStats; manifest: ManifestEntry[] }> {
  const { size } = o.source;
  const stats = emptyStats(size);
  // Each span's chunks, in order; a span's count is known once it is cut.
  const spans: ManifestEntry[][] = new Array<ManifestEntry[]>(Math.ceil(size / SPAN_BYTES));
  const seen = new Set<string>();
  const reader = await ChunkReader.open(o.source, o.signal);
  const encodeAndSend = async (span: number, raw: Buffer) => {
    const length = raw.length;
    const { chunks, memory } = await o.pool.encodeSpan(raw);
    reader.recycle(memory);
    spans[span] = chunks.map((c) => ({ hash: c.zero ? null : c.hash, size: c.size }));
    // Chunks seen earlier in this image count as dedup: the target will hold them by commit time.
    const asked: Array<{ hash: string; frame: Buffer; size: number }> = [];
    for (const chunk of chunks) {
      stats.chunks += 1;
      if (chunk.zero) {
        stats.zeroBytes += chunk.size;
        continue;
      }
      if (seen.has(chunk.hash)) {
        stats.dedupBytes += chunk.size;
        continue;
      }
      seen.add(chunk.hash);
      asked.push({ hash: chunk.hash, frame: chunk.frame, size: chunk.size });
    }
    const lacking = asked.length === 0 ? new Set<string>() : new Set(await o.target.missing(asked.map((c) => c.hash)));
    let batch: typeof asked = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const sending = batch;
      batch = [];
      batchBytes = 0;
      await o.target.putMany(sending.map(({ hash, frame }) => ({ hash, frame })));
      for (const c of sending) {
        stats.chunksSent += 1;
        stats.sentRawBytes += c.size;
        stats.linkBytes += c.frame.length;
      }
    };
    for (const c of asked) {
      if (!lacking.has(c.hash)) {
        stats.dedupBytes += c.size;
        continue;
      }
      if (batch.length === MAX_BATCH_HASHES || batchBytes + c.frame.length > MAX_BATCH_BYTES) await flush();
      batch.push(c);
      batchBytes += c.frame.length;
    }
    await flush();
    stats.processedBytes += length;
    o.onProgress?.({ ...stats });
  };
  try {
    await reader.forEach(Math.ceil(size / SPAN_BYTES), o.concurrency ?? 4, encodeAndSend);
  } finally {
    reader.close();
  }
  return { stats, manifest: spans.flat() };
}

/**
 * Reads an image from Glance span by span (SPAN_BYTES): with Range requests in parallel when Glance honours
 * them (a 206 to the first one), else from one sequential download.
 */
class ChunkReader {
  private constructor(
    private readonly access: GlanceImageAccess & { size: number },
    private readonly ranged: boolean,
    private readonly signal: AbortSignal | undefined,
    private sequential: AsyncIterator<Buffer> | null,
    private readonly cleanup: () => void,
  ) {}

  static async open(access: GlanceImageAccess & { size: number }, signal?: AbortSignal): Promise<ChunkReader> {
    if (access.size === 0) return new ChunkReader(access, true, signal, null, () => undefined);
    const probe = await request(access.url, { method: 'GET', headers: { 'x-auth-token': access.token, range: 'bytes=0-0' }, signal });
    await probe.body.dump();
    if (probe.statusCode === 206) return new ChunkReader(access, true, signal, null, () => undefined);
    if (probe.statusCode !== 200) throw new Error(`source Glance answered ${probe.statusCode} to a read of the image data`);
    const res = await request(access.url, { method: 'GET', headers: { 'x-auth-token': access.token }, signal });
    if (res.statusCode !== 200) throw new Error(`source Glance answered ${res.statusCode} to a download of the image data`);
    return new ChunkReader(access, false, signal, rechunk(res.body)[Symbol.asyncIterator](), () => res.body.destroy());
  }

  /** Calls `fn` for every span, `concurrency` at a time (in order when the source is sequential). */
  forEach(count: number, concurrency: number, fn: (index: number, raw: Buffer) => Promise<void>): Promise<void> {
    return this.forEachOf(
      Array.from({ length: count }, (_, i) => i),
      concurrency,
      fn,
    );
  }

  async forEachOf(indexes: number[], concurrency: number, fn: (index: number, raw: Buffer) => Promise<void>): Promise<void> {
    let next = 0;
    let sequentialAt = 0;
    const lane = async () => {
      while (next < indexes.length) {
        const index = indexes[next++];
        let raw: Buffer;
        if (this.ranged) {
          raw = await this.readRange(index);
        } else {
          // One download: skip to the chunk (only a resend skips) and take it; lanes take turns.
          for (;;) {
            const r = await this.sequential!.next();
            if (r.done) throw new Error(`source image ended before span ${index}`);
            if (sequentialAt++ === index) {
              raw = r.value;
              break;
            }
          }
        }
        await fn(index, raw);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.ranged ? concurrency : 1) }, lane));
  }

  close(): void {
    this.cleanup();
  }

  /** Span buffers the codec handed back, refilled by the next Range reads. */
  private readonly spare: Buffer[] = [];

  recycle(memory: Buffer): void {
    if (this.ranged && memory.length === SPAN_BYTES && this.spare.length < 8) this.spare.push(memory);
  }

  private async readRange(index: number): Promise<Buffer> {
    const start = index * SPAN_BYTES;
    const end = Math.min(this.access.size, start + SPAN_BYTES) - 1;
    const res = await request(this.access.url, { method: 'GET', headers: { 'x-auth-token': this.access.token, range: `bytes=${start}-${end}` }, signal: this.signal });
    if (res.statusCode !== 206) {
      await res.body.dump();
      throw new Error(`source Glance answered ${res.statusCode} to a Range read of span ${index}`);
    }
    const length = end - start + 1;
    const raw = length === SPAN_BYTES && this.spare.length > 0 ? this.spare.pop()! : Buffer.allocUnsafeSlow(length);
    let at = 0;
    for await (const piece of res.body) {
      const b = piece as Buffer;
      if (at + b.length > raw.length) throw new Error(`source Glance sent more than the range of span ${index}`);
      b.copy(raw, at);
      at += b.length;
    }
    if (at !== raw.length) throw new Error(`source Glance sent ${at} of the ${raw.length} bytes of span ${index}`);
    return raw;
  }
}

/** Cuts a byte stream into SPAN_BYTES buffers (each its own memory, so the codec can take it over). */
async function* rechunk(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafeSlow(SPAN_BYTES);
  let at = 0;
  for await (const piece of body) {
    let offset = 0;
    while (offset < piece.length) {
      const n = Math.min(SPAN_BYTES - at, piece.length - offset);
      piece.copy(buf, at, offset, offset + n);
      at += n;
      offset += n;
      if (at === SPAN_BYTES) {
        yield buf;
        buf = Buffer.allocUnsafeSlow(SPAN_BYTES);
        at = 0;
      }
    }
  }
  if (at > 0) yield Buffer.from(buf.subarray(0, at));
}

/** The target side in this process: the tenant's store in this process's ChunkStore. */
export class LocalChunkTarget implements ChunkTarget {
  constructor(
    private readonly store: ChunkStore,
    private readonly scope: ChunkScope,
    private readonly pool: ChunkCodecPool,
    private readonly signal?: AbortSignal,
  ) {}

  missing(hashes: string[]): Promise<string[]> {
    return this.store.missing(this.scope, hashes);
  }

  /**
   * Decodes every frame and checks its sha256 (on the codec pool, in parallel) before storing
   * any: a corrupted frame never lands, and a batch with one is refused whole.
   */
  async putMany(chunks: BatchChunk[]): Promise<void> {
    if (chunks.length > MAX_BATCH_HASHES) throw new Error(`a batch holds at most ${MAX_BATCH_HASHES} chunks`);
    for (const c of chunks) if (!CHUNK_HASH.test(c.hash)) throw new ChunkIntegrityError(c.hash, 'not a sha256 name');
    // decode takes over the memory it is given: hand it a copy, `frame` is what gets stored.
    await Promise.all(chunks.map((c) => this.pool.decode(Buffer.from(c.frame), c.hash)));
    await Promise.all(chunks.map((c) => this.store.put(this.scope, c.hash, c.frame)));
  }

  /**
   * Cuts the base image exactly as a source cuts an image (same spans, same content-defined
   * chunks), so its unchanged chunks get the names the source will ask about. Frames it stores
   * are made here from bytes read here: nothing from the partner side. Bounded: it stops once it
   * has stored half of the store's budget, so an index never evicts the store's whole contents.
   */
  async index(base: GlanceImageAccess & { size: number }): Promise<IndexResult> {
    const result: IndexResult = { readBytes: 0, storedChunks: 0, storedBytes: 0, truncated: false };
    const budget = Math.floor(this.store.maxBytes / 2);
    const reader = await ChunkReader.open(base, this.signal);
    const spans = Math.ceil(base.size / SPAN_BYTES);
    try {
      const indexes: number[] = [];
      for (let i = 0; i < spans; i++) indexes.push(i);
      await reader.forEachOf(indexes, 2, async (_span, raw) => {
        if (result.truncated) throw new BudgetReached();
        const length = raw.length;
        const { chunks, memory } = await this.pool.encodeSpan(raw);
        reader.recycle(memory);
        const named = new Map<string, Buffer>();
        for (const c of chunks) if (!c.zero) named.set(c.hash, c.frame);
        for (const hash of await this.store.missing(this.scope, [...named.keys()])) {
          const frame = named.get(hash)!;
          if (result.storedBytes + frame.length > budget) {
            result.truncated = true;
            throw new BudgetReached();
          }
          await this.store.put(this.scope, hash, frame);
          result.storedChunks += 1;
          result.storedBytes += frame.length;
        }
        result.readBytes += length;
      });
    } catch (err) {
      if (!(err instanceof BudgetReached)) throw err;
    } finally {
      reader.close();
    }
    return result;
  }

  async commit(req: CommitRequest, glance: GlanceImageAccess): Promise<CommitResult> {
    const problem = manifestProblem(req.size, req.manifest);
    if (problem) throw new Error(problem);
    const missing = await this.store.missing(this.scope, [...new Set(req.manifest.flatMap((e) => (e.hash === null ? [] : [e.hash])))]);
    if (missing.length > 0) return { ok: false, missing };
    await uploadFromStore(this.store, this.scope, this.pool, req, glance, this.signal);
    return { ok: true, uploadedBytes: req.size };
  }
}

/** Stops an index at its budget (no more spans are read). */
class BudgetReached extends Error {}

/**
 * The image's chunks in manifest order from the tenant's store, null for a zero chunk (each
 * caller makes its zeros or holes). A span's worth of chunks is read and decoded ahead (on every
 * codec thread), so the consumer does not wait on each file read and decode; a chunk whose bytes
 * no longer match its name is evicted (damaged on disk: the next attempt resends it).
 */
export async function* storedChunksInOrder(store: ChunkStore, scope: ChunkScope, pool: ChunkCodecPool, manifest: readonly ManifestEntry[]): AsyncGenerator<Buffer | null> {
  const load = async (i: number): Promise<Buffer | null> => {
    const { hash, size } = manifest[i];
    if (hash === null) return null;
    const frame = await store.get(scope, hash);
    if (!frame) throw new Error(`chunk ${i} left the store while the image was rebuilt from it`);
    try {
      return await pool.decode(frame, hash, size);
    } catch (err) {
      if (err instanceof ChunkIntegrityError) await store.remove(scope, hash);
      throw err;
    }
  };
  const ahead: Promise<Buffer | null>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < (2 * SPAN_BYTES) / AVG_CHUNK_BYTES && next < manifest.length) {
      const p = load(next++);
      p.catch(() => undefined); // awaited in order below
      ahead.push(p);
    }
  };
  fill();
  while (ahead.length > 0) {
    const buf = await ahead.shift()!;
    fill();
    yield buf;
  }
}

/** Rebuilds the image in order from the store (zeros made here) and PUTs it to Glance. */
async function uploadFromStore(store: ChunkStore, scope: ChunkScope, pool: ChunkCodecPool, req: CommitRequest, glance: GlanceImageAccess, signal?: AbortSignal): Promise<void> {
  const zeros = Buffer.alloc(MAX_CHUNK_BYTES);
  async function* ordered(): AsyncGenerator<Buffer> {
    let i = 0;
    for await (const raw of storedChunksInOrder(store, scope, pool, req.manifest)) {
      yield raw ?? zeros.subarray(0, req.manifest[i].size);
      i++;
    }
  }
  const body = Readable.from(ordered(), { objectMode: false });
  const res = await request(glance.url, {
    method: 'PUT',
    headers: { 'x-auth-token': glance.token, 'content-type': 'application/octet-stream', 'content-length': String(req.size) },
    body,
    signal,
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`target Glance answered ${res.statusCode} to the upload: ${text.slice(0, 200)}`);
}
