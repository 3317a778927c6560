/**
 * What the broker process needs to play a transfer side itself (a cloud without an agent): the
 * codec pool and, for the target side, its own chunk store. Made on first use, so a broker that
 * only ever relays starts no codec threads and scans no store.
 */
import { ChunkCodecPool } from './chunk-codec';
import { ChunkStore } from './chunk-store';

export class LocalTransferSide {
  private opened: Promise<{ pool: ChunkCodecPool; store: ChunkStore }> | null = null;

  constructor(
    private readonly cacheDir: string,
    private readonly cacheBytes: number,
  ) {}

  get(): Promise<{ pool: ChunkCodecPool; store: ChunkStore }> {
    this.opened ??= ChunkStore.open(this.cacheDir, this.cacheBytes).then((store) => ({ pool: new ChunkCodecPool(), store }));
    return this.opened;
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = null;
    if (opened) await (await opened.catch(() => null))?.pool.close();
  }
}
