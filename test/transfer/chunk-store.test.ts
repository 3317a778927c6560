/** The target side's chunk store on disk: per-tenant scopes, LRU within its budget, and what survives a restart. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChunkStore } from '../../src/transfer/chunk-store';

const h = (n: number) => n.toString(16).padStart(64, '0');
const A = { tenantId: 'tenant-a', cloudId: 'cloud-1' };
const B = { tenantId: 'tenant-b', cloudId: 'cloud-1' };

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chunk-store-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('chunk store', () => {
  it('answers "have?" only from the asking tenant\'s scope', async () => {
    const store = await ChunkStore.open(dir, 1 << 20);
    await store.put(A, h(1), Buffer.from('frame one'));
    expect(await store.has(A, h(1))).toBe(true);
    expect(await store.has(B, h(1))).toBe(false);
    expect(await store.get(B, h(1))).toBeNull();
    expect(await store.missing(B, [h(1), h(2)])).toEqual([h(1), h(2)]);
    expect(await store.missing(A, [h(1), h(2)])).toEqual([h(2)]);
    expect((await store.get(A, h(1)))!.toString()).toBe('frame one');
  });

  it('evicts the least recently used chunks past its budget', async () => {
    const store = await ChunkStore.open(dir, 250);
    await store.put(A, h(1), Buffer.alloc(100));
    await store.put(A, h(2), Buffer.alloc(100));
    await store.has(A, h(1)); // used again: now h(2) is the oldest
    await store.put(B, h(3), Buffer.alloc(100));
    expect(await store.has(A, h(2))).toBe(false);
    expect(await store.has(A, h(1))).toBe(true);
    expect(await store.has(B, h(3))).toBe(true);
    expect(store.size).toBe(200);
  });

  it('finds its chunks again after a restart, and drops temporary files a crash left', async () => {
    const store = await ChunkStore.open(dir, 1 << 20);
    await store.put(A, h(1), Buffer.from('kept'));
    const leftover = path.join(dir, A.tenantId, A.cloudId, '00', `${h(2)}.abc.tmp`);
    fs.writeFileSync(leftover, 'half a chunk');
    const again = await ChunkStore.open(dir, 1 << 20);
    expect(await again.has(A, h(1))).toBe(true);
    expect(await again.has(A, h(2))).toBe(false);
    expect(fs.existsSync(leftover)).toBe(false);
  });

  it('refuses names that are not sha256 and scopes that are not plain ids', async () => {
    const store = await ChunkStore.open(dir, 1 << 20);
    await expect(store.put(A, '../../etc/passwd', Buffer.from('x'))).rejects.toThrow(/sha256/);
    await expect(store.has({ tenantId: '..', cloudId: 'c' }, h(1))).rejects.toThrow(/tenant id/);
  });

  it('counts a chunk written twice at once only once', async () => {
    const store = await ChunkStore.open(dir, 1 << 20);
    await Promise.all([store.put(A, h(7), Buffer.alloc(100)), store.put(A, h(7), Buffer.alloc(100)), store.put(A, h(8), Buffer.alloc(50))]);
    expect(store.size).toBe(150);
    expect(await store.count(A)).toBe(2);
    expect(store.size).toBe((await ChunkStore.open(dir, 1 << 20)).size);
  });
});
