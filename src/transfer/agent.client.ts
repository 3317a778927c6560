/** HTTP calls to a transfer agent (agent.server.ts), each carrying the job token the broker signed. */
import { request } from 'undici';
import { BatchChunk, packBatch } from './chunk-codec';
import { ChunkTarget, CommitRequest, CommitResult, GlanceImageAccess, IndexResult, ManifestEntry, TransferStats } from './chunk-transfer';

async function call(url: string, token: string, init: { method: 'POST' | 'PUT'; body: string | Buffer; type: string; signal?: AbortSignal }) {
  const res = await request(url, {
    method: init.method,
    headers: { authorization: `Bearer ${token}`, 'content-type': init.type },
    body: init.body,
    signal: init.signal,
  });
  return res;
}

async function failure(where: string, res: { statusCode: number; body: { text(): Promise<string> } }): Promise<Error> {
  const text = await res.body.text().catch(() => '');
  let message = text.slice(0, 300);
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? message;
  } catch {
    // not JSON: keep the text
  }
  return new Error(`transfer agent ${where} answered ${res.statusCode}: ${message}`);
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
  const res = await call(`${base}/v1/source/send`, token, { method: 'POST', type: 'application/json', body: JSON.stringify(body), signal });
  if (res.statusCode !== 200) throw await failure(base, res);
  let rest = '';
  for await (const piece of res.body) {
    rest += (piece as Buffer).toString('utf8');
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line.trim() === '') continue;
      const msg = JSON.parse(line) as { progress?: TransferStats; done?: { stats: TransferStats; manifest: ManifestEntry[] }; error?: string };
      if (msg.progress) onProgress(msg.progress);
      else if (msg.done) return msg.done;
      else if (msg.error !== undefined) throw new Error(`source agent ${base}: ${msg.error}`);
    }
  }
  throw new Error(`source agent ${base} ended its answer before the transfer finished`);
}
