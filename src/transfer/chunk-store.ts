/**
 * The target side's chunk store: frames (chunk-codec.ts) on disk, named by the sha256 of their
 * raw bytes, in one directory per (tenant, target cloud). It is the dedup cache (a repeat clone
 * finds most chunks here) and the resume point (a transfer cut short finds what it already sent).
 *
 * Tenants never share a chunk: every question ("do you have X?", "give me X") is asked of one
 * scope's directory, so a tenant cannot learn that another holds some bytes. The whole store is
 * bounded by `maxBytes`, least recently used chunks evicted first, whichever scope they are in.
 */
import { randomUUID } from 'node:crypto';
import fsCallbacks from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

// The callback forms for the per-chunk reads and writes: fs/promises makes a FileHandle per call,
// which was the target agent's largest cost in a profile (0.8 s of main-thread CPU per 128 MiB at 64 KiB chunks).
const readFile = promisify(fsCallbacks.readFile);
const writeFile = promisify(fsCallbacks.writeFile);
import { CHUNK_HASH } from './chunk-codec';

/** Whose chunks: a tenant's, for one target cloud. */
export interface ChunkScope {
  tenantId: string;
  cloudId: string;
}

/** Ids become directory names: nothing that could climb out of the store. */
const SEGMENT = /^[A-Za-z0-9_-]{1,128}$/;

export class ChunkStore {
  /** path -> bytes, least recently used first (a Map keeps insertion order). */
  private readonly lru = new Map<string, number>();
  private bytes = 0;
  /** Fan-out directories known to exist: a put makes its directory once, not per chunk. */
  private readonly dirs = new Set<string>();

  private constructor(
    readonly root: string,
    readonly maxBytes: number,
  ) {}

  /** Opens (creating) the store at `root` and indexes what an earlier run left, oldest first. */
  static async open(root: string, maxBytes: number): Promise<ChunkStore> {
    const store = new ChunkStore(path.resolve(root), maxBytes);
    await fs.mkdir(store.root, { recursive: true });
    const found: Array<{ file: string; size: number; at: number }> = [];
    for (const entry of await fs.readdir(store.root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      if (!CHUNK_HASH.test(entry.name)) {
        await fs.rm(file, { force: true }); // a temporary file from a write cut short
        continue;
      }
      const stat = await fs.stat(file);
      found.push({ file, size: stat.size, at: stat.mtimeMs });
    }
    found.sort((a, b) => a.at - b.at);
    for (const f of found) store.index(f.file, f.size);
    await store.evict();
    return store;
  }

  /** Bytes held, all scopes together. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Whether the scope holds the chunk (and marks it recently used, in memory: the mtime that keeps
   * the order across a restart is set when the chunk is written or read, which a commit does to
   * every chunk of the image, so a "have?" over thousands of chunks costs no file system call).
   */
  async has(scope: ChunkScope, hash: string): Promise<boolean> {
    const file = this.pathOf(scope, hash);
    if (!this.lru.has(file)) return false;
    this.touch(file, false);
    return true;
  }

  /** Those of `hashes` the scope does not hold. */
  async missing(scope: ChunkScope, hashes: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const h of hashes) if (!(await this.has(scope, h))) out.push(h);
    return out;
  }

  /** The frame of a chunk, or null when the scope does not hold it (evicted, or never sent). */
  async get(scope: ChunkScope, hash: string): Promise<Buffer | null> {
    const file = this.pathOf(scope, hash);
    try {
      const frame = await readFile(file);
      this.touch(file);
      return frame;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.forget(file);
      return null;
    }
  }

  /**
   * Stores a frame the caller has verified (decoded to bytes hashing to `hash`). Written to a
   * temporary name and renamed, so a crash never leaves a truncated chunk under a valid name.
   */
  async put(scope: ChunkScope, hash: string, frame: Buffer): Promise<void> {
    const file = this.pathOf(scope, hash);
    if (this.lru.has(file)) {
      this.touch(file);
      return;
    }
    const dir = path.dirname(file);
    if (!this.dirs.has(dir)) {
      await fs.mkdir(dir, { recursive: true });
      this.dirs.add(dir);
    }
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, frame);
    await fs.rename(tmp, file);
    this.index(file, frame.length);
    await this.evict(file);
  }

  /** Drops a chunk found damaged on disk. */
  async remove(scope: ChunkScope, hash: string): Promise<void> {
    const file = this.pathOf(scope, hash);
    await fs.rm(file, { force: true });
    this.forget(file);
  }

  /** Chunks in one scope (for tests and the agent's metrics). */
  async count(scope: ChunkScope): Promise<number> {
    const dir = this.dirOf(scope);
    let n = 0;
    for (const file of this.lru.keys()) if (file.startsWith(dir + path.sep)) n++;
    return n;
  }

  private dirOf(scope: ChunkScope): string {
    if (!SEGMENT.test(scope.tenantId)) throw new Error('tenant id is not a valid store directory name');
    if (!SEGMENT.test(scope.cloudId)) throw new Error('cloud id is not a valid store directory name');
    return path.join(this.root, scope.tenantId, scope.cloudId);
  }

  private pathOf(scope: ChunkScope, hash: string): string {
    if (!CHUNK_HASH.test(hash)) throw new Error('a chunk is named by its sha256 in lowercase hex');
    return path.join(this.dirOf(scope), hash.slice(0, 2), hash);
  }

  private index(file: string, size: number): void {
    if (this.lru.has(file)) return; // the same chunk written twice at once (one batch, two senders)
    this.lru.set(file, size);
    this.bytes += size;
  }

  private forget(file: string): void {
    const size = this.lru.get(file);
    if (size === undefined) return;
    this.lru.delete(file);
    this.bytes -= size;
  }

  private touch(file: string, persist = true): void {
    const size = this.lru.get(file);
    if (size === undefined) return;
    this.lru.delete(file);
    this.lru.set(file, size);
    if (!persist) return;
    // The order survives a restart through mtimes; a failed utimes only ages the chunk.
    const now = new Date();
    fs.utimes(file, now, now).catch(() => undefined);
  }

  /** Removes least recently used chunks until the store fits, never `keep` (the chunk just written). */
  private async evict(keep?: string): Promise<void> {
    for (const [file] of this.lru) {
      if (this.bytes <= this.maxBytes) return;
      if (file === keep) continue;
      this.forget(file);
      await fs.rm(file, { force: true });
    }
  }
}
