/**
 * The broker's half of a chunked transfer: signs the per-job tokens, picks who plays each side
 * (a cloud's transfer agent, else this process with the same code), runs the source side, then
 * commits on the target side, which uploads to the target Glance. Callable on its own (the
 * transfer benchmark runs it between two agents), and by the TRANSFER step.
 */
import { RemoteChunkTarget, remoteSend } from './agent.client';
import { ChunkCodecPool } from './chunk-codec';
import { ChunkStore } from './chunk-store';
import { ChunkTarget, CommitRequest, CommitResult, GlanceImageAccess, IndexResult, LocalChunkTarget, ManifestEntry, TransferStats, sendImage } from './chunk-transfer';
import { signJobToken } from './job-token';

/** How long a job token lives: enough for one attempt of a large transfer; a retry gets a new one. */
export const JOB_TOKEN_SECONDS = 6 * 3600;

export interface ChunkedTransferRequest {
  jobId: string;
  tenantId: string;
  source: { cloudId: string; glance: GlanceImageAccess; size: number; agentUrl: string | null };
  /**
   * `base`: an image already in the target cloud (an earlier clone or a standby of the same VM
   * type, this tenant's own) that the target side indexes into the tenant's store before the
   * source sends, so a repeat sends only what changed even when the store was emptied.
   */
  target: { cloudId: string; glance: GlanceImageAccess; agentUrl: string | null; base?: (GlanceImageAccess & { size: number }) | null };
  /** Needed when either side is an agent: the key job tokens are signed with. */
  secret: string | null;
  /** What this process uses when it plays a side: its codec pool, and (target side) its chunk store. */
  local: { pool: ChunkCodecPool; store: ChunkStore | null };
  onProgress?: (stats: TransferStats) => void;
  /** What indexing the base image did, or why it failed (the transfer goes on without it). */
  onIndexed?: (result: IndexResult | Error) => void;
  signal?: AbortSignal;
  /**
   * What the target side does once the chunks are there, instead of a plain commit (a format
   * conversion by the target agent: transfer.step.ts); the same "send what is missing, once more" loop.
   */
  finish?: (target: ChunkTarget, req: CommitRequest) => Promise<CommitResult>;
}

export async function runChunkedTransfer(r: ChunkedTransferRequest): Promise<TransferStats> {
  const exp = Math.floor(Date.now() / 1000) + JOB_TOKEN_SECONDS;
  const needSecret = () => {
    if (!r.secret) throw new Error('a transfer agent is configured but AGENT_SHARED_SECRET is not set on the broker');
    return r.secret;
  };
  let target: ChunkTarget;
  let targetToken = '';
  if (r.target.agentUrl) {
    targetToken = signJobToken(needSecret(), { jobId: r.jobId, tenantId: r.tenantId, cloudId: r.target.cloudId, role: 'target', urls: [r.target.glance.url, ...(r.target.base ? [r.target.base.url] : [])], exp });
    target = new RemoteChunkTarget(r.target.agentUrl, targetToken, r.signal);
  } else {
    if (!r.local.store) throw new Error('this broker has no chunk store to play the target side (set AGENT_CACHE_DIR)');
    target = new LocalChunkTarget(r.local.store, { tenantId: r.tenantId, cloudId: r.target.cloudId }, r.local.pool, r.signal);
  }

  // A source agent can only push to a target agent; with none, this process reads the source itself.
  const send = async (): Promise<{ stats: TransferStats; manifest: ManifestEntry[] }> => {
    if (r.source.agentUrl && r.target.agentUrl) {
      const sourceToken = signJobToken(needSecret(), {
        jobId: r.jobId,
        tenantId: r.tenantId,
        cloudId: r.source.cloudId,
        role: 'source',
        urls: [r.source.glance.url, r.target.agentUrl],
        exp,
      });
      return remoteSend(
        r.source.agentUrl,
        sourceToken,
        { source: { ...r.source.glance, size: r.source.size }, target: { agentUrl: r.target.agentUrl, token: targetToken } },
        (s) => r.onProgress?.(s),
        r.signal,
      );
    }
    return sendImage({ source: { ...r.source.glance, size: r.source.size }, target, pool: r.local.pool, onProgress: r.onProgress, signal: r.signal });
  };

  if (r.target.base) {
    // Only an optimisation: a base that cannot be read (deleted meanwhile, say) costs nothing but the bytes it would have saved.
    try {
      r.onIndexed?.(await target.index(r.target.base));
    } catch (err) {
      if (r.signal?.aborted) throw err;
      r.onIndexed?.(err as Error);
    }
  }

  let total: TransferStats | null = null;
  // A chunk evicted from the target's store between "missing?" and commit: send again, once.
  for (let round = 0; round < 2; round++) {
    const { stats, manifest } = await send();
    total = total ? { ...stats, linkBytes: total.linkBytes + stats.linkBytes, chunksSent: total.chunksSent + stats.chunksSent } : stats;
    const result = r.finish ? await r.finish(target, { size: r.source.size, manifest }) : await target.commit({ size: r.source.size, manifest }, r.target.glance);
    if (result.ok) return total;
  }
  throw new Error('the target side lost chunks again while they were being sent (is AGENT_CACHE_BYTES smaller than one image?)');
}
