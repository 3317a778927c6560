/** HTTP calls to a transfer agent (agent.server.ts), each carrying the job token the broker signed. */
import { request } from 'undici';
import { PermanentStepError, StepErrorCode } from '../domain/clone-phase';
import { UpstreamUnavailableError } from '../domain/errors';
import { BatchChunk, CHUNK_HASH, MIN_CHUNK_BYTES, packBatch } from './chunk-codec';
import { ChunkTarget, CommitRequest, CommitResult, GlanceImageAccess, IndexResult, ManifestEntry, TransferStats, manifestProblem } from './chunk-transfer';
import type { ConversionEvent, TargetConversionRequest, TargetConversionResult } from './target-conversion';

async function call(url: string, token: string, init: { method: 'POST' | 'PUT'; body: string | Buffer; type: string; signal?: AbortSignal }) {
  try {
    return await request(url, {
      method: init.method,
      headers: { authorization: `Bearer ${token}`, 'content-type': init.type },
      body: init.body,
      signal: init.signal,
    });
  } catch (err) {
    // An agent restarting (refused, reset) is worth the step's retry: its store is the resume point.
    if (init.signal?.aborted || (err as Error).name === 'AbortError') throw err;
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    throw new UpstreamUnavailableError(`transfer agent ${new URL(url).origin} could not be reached (${String(code).slice(0, 40)})`, { retryable: true, cause: err });
  }
}

async function failure(where: string, res: { statusCode: number; body: { text(): Promise<string> } }): Promise<Error> {
  const text = await res.body.text().catch(() => '');
  let message = text.slice(0, 300);
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? message;
  } catch {
    // not JSON: keep the text
  }
  const said = `transfer agent ${where} answered ${res.statusCode}: ${message.replace(/[^\x20-\x7e]/g, '?')}`;
  // A 5xx (an agent's own failure, a chunk found damaged in its store) may pass on a retry; a 4xx will not.
  if (res.statusCode >= 500 || res.statusCode === 429) return new UpstreamUnavailableError(said, { retryable: true, status: res.statusCode });
  return new Error(said);
}

/** A target-side agent, as the source side (or the broker, to commit) sees it. */
export class RemoteChunkTarget implements ChunkTarget {
  private readonly base: string;

  constructor(
    agentUrl: string,
    private readonly token: string,
    private readonly signal?: AbortSignal,
  ) {
    this.base = agentUrl.replace(/\/+$/, '');
  }

  async missing(hashes: string[]): Promise<string[]> {
    const res = await call(`${this.base}/v1/target/missing`, this.token, { method: 'POST', type: 'application/json', body: JSON.stringify({ hashes }), signal: this.signal });
    if (res.statusCode !== 200) throw await failure(this.base, res);
    return ((await res.body.json()) as { missing: string[] }).missing;
  }

  /** One request per batch: the frames packed back to back (packBatch). */
  async putMany(chunks: BatchChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const res = await call(`${this.base}/v1/target/chunks`, this.token, { method: 'POST', type: 'application/octet-stream', body: packBatch(chunks), signal: this.signal });
    if (res.statusCode !== 204) throw await failure(this.base, res);
    await res.body.dump();
  }

  async commit(req: CommitRequest, glance: GlanceImageAccess): Promise<CommitResult> {
    const res = await call(`${this.base}/v1/target/commit`, this.token, { method: 'POST', type: 'application/json', body: JSON.stringify({ ...req, glance }), signal: this.signal });
    if (res.statusCode === 409) return { ok: false, missing: ((await res.body.json()) as { missing: string[] }).missing };
    if (res.statusCode !== 200) throw await failure(this.base, res);
    return (await res.body.json()) as CommitResult;
  }

  async index(base: GlanceImageAccess & { size: number }): Promise<IndexResult> {
    const res = await call(`${this.base}/v1/target/index`, this.token, { method: 'POST', type: 'application/json', body: JSON.stringify({ glance: base }), signal: this.signal });
    if (res.statusCode !== 200) throw await failure(this.base, res);
    return (await res.body.json()) as IndexResult;
  }

  /**
   * Has the target agent rebuild the image, convert it and upload the result (target-conversion.ts).
   * Its stages arrive as NDJSON lines and are handed to `onEvent` in order; every line is checked
   * (the agent is a partner's process: a malformed answer is an error, not something to trust).
   */
  async convert(req: TargetConversionRequest, glance: GlanceImageAccess, onEvent: (e: ConversionEvent) => Promise<void> | void): Promise<TargetConversionResult> {
    const res = await call(`${this.base}/v1/target/convert`, this.token, { method: 'POST', type: 'application/json', body: JSON.stringify({ ...req, glance }), signal: this.signal });
    if (res.statusCode !== 200) throw await failure(this.base, res);
    let rest = '';
    for await (const piece of res.body) {
      rest += (piece as Buffer).toString('utf8');
      if (rest.length > 64 * 1024 * 1024) throw new Error(`transfer agent ${this.base} sent an oversized conversion answer`);
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line.trim() === '') continue;
        const msg = parseConversionLine(line, this.base);
        if (msg.kind === 'event') await onEvent(msg.event);
        else if (msg.kind === 'done') return msg.result;
        else if (msg.kind === 'error') throw msg.error;
      }
    }
    throw new Error(`transfer agent ${this.base} ended its answer before the conversion finished`);
  }
}

/** Codes a target agent may fail a conversion with for good; any other failure it reports is worth the step's retry. */
const CONVERSION_CODES = new Set<string>([StepErrorCode.SPOOL_SPACE, StepErrorCode.CONVERSION_FAILED, StepErrorCode.CHECKSUM_MISMATCH, StepErrorCode.DISK_FORMAT_UNSUPPORTED]);
const SHA512 = /^[0-9a-f]{128}$/;
const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const said = (v: unknown) => String(v).replace(/[^\x20-\x7e]/g, '?').slice(0, 500);

type ConversionLine = { kind: 'event'; event: ConversionEvent } | { kind: 'done'; result: TargetConversionResult } | { kind: 'error'; error: Error } | { kind: 'keepalive' };

function parseConversionLine(line: string, base: string): ConversionLine {
  const bad = () => new Error(`transfer agent ${base} sent a malformed conversion answer`);
  let msg: Record<string, any>;
  try {
    msg = JSON.parse(line) as Record<string, any>;
  } catch {
    throw bad();
  }
  if (msg === null || typeof msg !== 'object') throw bad();
  if (msg.working === true) return { kind: 'keepalive' };
  if (msg.error !== undefined) {
    const message = `transfer agent ${base}: ${said(msg.error)}`;
    return { kind: 'error', error: typeof msg.code === 'string' && CONVERSION_CODES.has(msg.code) ? new PermanentStepError(msg.code as StepErrorCode, message) : new UpstreamUnavailableError(message, { retryable: true }) };
  }
  const e = msg.event as Record<string, unknown> | undefined;
  if (e) {
    if (e.stage === 'spooling' && typeof e.spoolDir === 'string' && count(e.bytes)) return { kind: 'event', event: { stage: 'spooling', spoolDir: said(e.spoolDir), bytes: e.bytes } };
    if (e.stage === 'converting' && count(e.virtualSize)) return { kind: 'event', event: { stage: 'converting', virtualSize: e.virtualSize } };
    if (e.stage === 'uploading' && count(e.convertedBytes) && typeof e.seconds === 'number' && Number.isFinite(e.seconds) && e.seconds >= 0) {
      return { kind: 'event', event: { stage: 'uploading', convertedBytes: e.convertedBytes, seconds: e.seconds } };
    }
    throw bad();
  }
  const d = msg.done as Record<string, unknown> | undefined;
  if (d) {
    if (d.ok === false && Array.isArray(d.missing) && d.missing.every((h) => typeof h === 'string' && CHUNK_HASH.test(h))) return { kind: 'done', result: { ok: false, missing: d.missing as string[] } };
    if (d.ok === true && count(d.uploadedBytes) && count(d.virtualSize) && typeof d.sourceSha512 === 'string' && SHA512.test(d.sourceSha512) && typeof d.sha512 === 'string' && SHA512.test(d.sha512) && typeof d.spoolDir === 'string') {
      return { kind: 'done', result: { ok: true, uploadedBytes: d.uploadedBytes, virtualSize: d.virtualSize, sourceSha512: d.sourceSha512, sha512: d.sha512, spoolDir: said(d.spoolDir) } };
    }
  }
  throw bad();
}

/** What the broker asks a source agent to do for a job. */
export interface SendRequest {
  source: GlanceImageAccess & { size: number };
  /** The target agent, and the target-role token the source uses to call it. */
  target: { agentUrl: string; token: string };
}

/**
 * Has a source agent send the image to the target agent; its progress arrives as NDJSON lines
 * while it works. Resolves with its stats and the manifest to commit.
 */
export async function remoteSend(
  agentUrl: string,
  token: string,
  body: SendRequest,
  onProgress: (stats: TransferStats) => void,
  signal?: AbortSignal,
): Promise<{ stats: TransferStats; manifest: ManifestEntry[] }> {
  const base = agentUrl.replace(/\/+$/, '');
  const size = body.source.size;
  const res = await call(`${base}/v1/source/send`, token, { method: 'POST', type: 'application/json', body: JSON.stringify(body), signal });
  if (res.statusCode !== 200) throw await failure(base, res);
  // The longest honest line is the final one: its manifest, ~90 bytes per chunk of at least MIN_CHUNK_BYTES.
  const maxLine = 1024 * 1024 + Math.ceil(size / MIN_CHUNK_BYTES) * 100;
  const malformed = (why: string) => new UpstreamUnavailableError(`source agent ${base} sent a malformed answer: ${why}`, { retryable: false });
  let rest = '';
  try {
    for await (const piece of res.body) {
      rest += (piece as Buffer).toString('utf8');
      if (rest.length > maxLine) throw malformed(`a line longer than ${maxLine} bytes`);
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line.trim() === '') continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw malformed('a line that is not JSON');
        }
        if (msg === null || typeof msg !== 'object') throw malformed('a line that is not an object');
        if (msg.progress !== undefined) {
          onProgress(checkedStats(msg.progress, size, malformed));
        } else if (msg.done !== undefined) {
          const done = msg.done as { stats?: unknown; manifest?: unknown } | null;
          const stats = checkedStats(done?.stats, size, malformed);
          const problem = manifestProblem(size, done?.manifest);
          if (problem) throw malformed(problem);
          return { stats, manifest: done!.manifest as ManifestEntry[] };
        } else if (msg.error !== undefined) {
          // The source agent's own failure (its Glance read, the target agent it pushes to): what it
          // stored on the target side stays there, so the step's retry resends only the rest.
          throw new UpstreamUnavailableError(`source agent ${base}: ${said(msg.error)}`, { retryable: true });
        } else {
          throw malformed('a line with neither progress, done nor error');
        }
      }
    }
  } catch (err) {
    if (err instanceof UpstreamUnavailableError || signal?.aborted) throw err;
    // The answer broke off mid-stream (the agent died, the connection reset): worth the retry.
    throw new UpstreamUnavailableError(`source agent ${base} broke off its answer (${said((err as NodeJS.ErrnoException).code ?? (err as Error).name)})`, { retryable: true, cause: err });
  }
  throw new UpstreamUnavailableError(`source agent ${base} ended its answer before the transfer finished`, { retryable: true });
}

/** Stats from a partner's agent: every field a byte or chunk count no larger than the image allows. */
function checkedStats(v: unknown, size: number, malformed: (why: string) => Error): TransferStats {
  const s = v as Record<string, unknown> | null;
  if (s === null || typeof s !== 'object') throw malformed('stats that are not an object');
  const out = {} as Record<keyof TransferStats, number>;
  for (const key of ['imageBytes', 'processedBytes', 'linkBytes', 'zeroBytes', 'dedupBytes', 'sentRawBytes', 'chunks', 'chunksSent'] as const) {
    const n = s[key];
    // The link may carry a little more than the image (frame headers of incompressible chunks).
    const max = key === 'linkBytes' ? 2 * size + 1024 * 1024 : size;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > max) throw malformed(`stats.${key} must be a count from 0 to ${max}`);
    out[key] = n;
  }
  if (out.imageBytes !== size) throw malformed(`stats.imageBytes must be the image's ${size} bytes`);
  return out;
}
