/** Pure rules with an injected clock: transfer progress throttling and the per-token rate limit. */
import { RateLimiter } from '../../src/api/rate-limiter';
import { ProgressReport, ProgressThrottle } from '../../src/pipeline/clone-progress';

describe('ProgressThrottle', () => {
  function run(updates: [atMs: number, bytes: number][], total: number | null) {
    let now = 0;
    const reports: (ProgressReport & { at: number })[] = [];
    const t = new ProgressThrottle((r) => reports.push({ ...r, at: now }), 4, () => now);
    for (const [at, bytes] of updates) {
      now = at;
      t.update(bytes, total);
    }
    return reports;
  }

  it('reports at most 4 times per second however often bytes arrive', () => {
    const updates: [number, number][] = Array.from({ length: 1000 }, (_, i) => [i * 2, (i + 1) * 1000]);
    const reports = run(updates, 10_000_000);
    for (let i = 1; i < reports.length; i++) expect(reports[i].at - reports[i - 1].at).toBeGreaterThanOrEqual(250);
    const perSecond = new Map<number, number>();
    for (const r of reports) perSecond.set(Math.floor(r.at / 1000), (perSecond.get(Math.floor(r.at / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(4);
  });

  it('always reports the final byte count once, with rate and ETA from the recent window', () => {
    // 1 MB every 100 ms = 10 MB/s, 5 MB in total.
    const updates: [number, number][] = Array.from({ length: 5 }, (_, i) => [(i + 1) * 100, (i + 1) * 1_000_000]);
    const reports = run([...updates, [600, 5_000_000]], 5_000_000);
    const last = reports.at(-1)!;
    expect(last.bytesTransferred).toBe(5_000_000);
    expect(last.etaSeconds).toBe(0);
    expect(reports.filter((r) => r.bytesTransferred === 5_000_000).length).toBe(1);
    const first = reports[0];
    expect(first.bytesTransferred).toBe(1_000_000);
    const mid = run(updates.slice(0, 4), 5_000_000).at(-1)!;
    expect(mid.bytesPerSecond).toBeCloseTo(10_000_000, -3);
    expect(mid.etaSeconds).toBeCloseTo((5_000_000 - mid.bytesTransferred) / mid.bytesPerSecond, 5);
  });

  it('has no ETA without a known total', () => {
    expect(run([[0, 1], [300, 1000]], null).every((r) => r.etaSeconds === null)).toBe(true);
  });
});

describe('RateLimiter', () => {
  it('allows a burst of the per-minute budget, then asks to wait, then refills over time', () => {
    const limiter = new RateLimiter(60);
    for (let i = 0; i < 60; i++) expect(limiter.take('t', 0)).toBe(0);
    expect(limiter.take('t', 0)).toBe(1);
    // One token per second at 60/min.
    expect(limiter.take('t', 1000)).toBe(0);
    expect(limiter.take('t', 1000)).toBeGreaterThan(0);
  });

  it('keeps tokens apart', () => {
    const limiter = new RateLimiter(1);
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 0)).toBe(60);
    expect(limiter.take('b', 0)).toBe(0);
  });
});
