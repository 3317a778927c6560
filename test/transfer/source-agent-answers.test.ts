/**
 * The broker reading a source agent's streamed answer (remoteSend). A source agent runs beside a
 * partner's cloud, so its answer is hostile until checked: here a loopback HTTP server plays a
 * partner's agent that answers with what it likes. Its own failures and an answer broken off
 * mid-stream are retryable (the target's store keeps what arrived, so a retry resends the rest);
 * a malformed answer is refused with a message naming what was wrong, and nothing of it reaches
 * the job's progress.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { ErrorCode, isRetryable, DomainError } from '../../src/domain/errors';
import { remoteSend } from '../../src/transfer/agent.client';
import { TransferStats } from '../../src/transfer/chunk-transfer';

const SIZE = 200_000;
const stats = (over: Partial<TransferStats> = {}): TransferStats => ({
  imageBytes: SIZE,
  processedBytes: SIZE,
  linkBytes: 1000,
  zeroBytes: 0,
  dedupBytes: 0,
  sentRawBytes: SIZE,
  chunks: 2,
  chunksSent: 2,
  ...over,
});
const manifest = [
  { hash: 'a'.repeat(64), size: 120_000 },
  { hash: null, size: 80_000 },
];

/** What the fake agent writes for the next request: lines, then end or destroy the socket. */
let script: { lines: string[]; end: 'end' | 'destroy' } = { lines: [], end: 'end' };
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (const line of script.lines) res.write(line);
      if (script.end === 'destroy') setTimeout(() => res.socket?.destroy(), 20);
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function send(lines: string[], end: 'end' | 'destroy' = 'end') {
  script = { lines, end };
  const progress: TransferStats[] = [];
  const request = { source: { url: 'http://glance.invalid/v2/images/x/file', token: 't', size: SIZE }, target: { agentUrl: 'http://agent.invalid', token: 't' } };
  try {
    const done = await remoteSend(url, 'job-token', request, (s) => progress.push(s));
    return { done, progress, err: null as unknown };
  } catch (err) {
    return { done: null, progress, err };
  }
}

const line = (v: unknown) => `${JSON.stringify(v)}\n`;

describe('a source agent answer, read by the broker', () => {
  it('passes on checked progress and returns the checked stats and manifest', async () => {
    const r = await send([line({ progress: stats({ processedBytes: 100_000 }) }), line({ done: { stats: stats(), manifest } })]);
    expect(r.err).toBeNull();
    expect(r.progress.map((p) => p.processedBytes)).toEqual([100_000]);
    expect(r.done).toEqual({ stats: stats(), manifest });
  });

  it("turns the agent's own failure and an answer broken off mid-stream into retryable errors", async () => {
    const failed = await send([line({ progress: stats({ processedBytes: 1 }) }), line({ error: 'target agent http://b answered 503\u0007' })]);
    expect(isRetryable(failed.err)).toBe(true);
    expect((failed.err as Error).message).toMatch(/^source agent http:\/\/127\.0\.0\.1:\d+: target agent http:\/\/b answered 503\?$/);

    const cut = await send([line({ progress: stats({ processedBytes: 1 }) })], 'destroy');
    expect(isRetryable(cut.err)).toBe(true);
    expect((cut.err as Error).message).toMatch(/broke off its answer|ended its answer before the transfer finished/);

    const short = await send([line({ progress: stats({ processedBytes: 1 }) })]);
    expect(isRetryable(short.err)).toBe(true);
    expect((short.err as Error).message).toMatch(/ended its answer before the transfer finished/);
  });

  it('refuses a malformed answer, naming what is wrong, and passes none of it on as progress', async () => {
    const cases: [string[], RegExp][] = [
      [['not json\n'], /a line that is not JSON/],
      [[line(42)], /a line that is not an object/],
      [[line({ hello: 1 })], /neither progress, done nor error/],
      [[line({ progress: stats({ linkBytes: -1 }) })], /stats\.linkBytes must be a count/],
      [[line({ progress: { ...stats(), processedBytes: '<script>' } })], /stats\.processedBytes must be a count/],
      [[line({ progress: stats({ processedBytes: SIZE + 1 }) })], /stats\.processedBytes must be a count from 0 to 200000/],
      [[line({ progress: stats({ imageBytes: 5 }) })], /stats\.imageBytes must be the image's 200000 bytes/],
      [[line({ done: { stats: stats(), manifest: [{ hash: 'a'.repeat(64), size: 100 }] } })], /add up to 100 bytes, the image has 200000/],
      [[line({ done: { stats: stats(), manifest: [{ hash: '../../etc/passwd', size: SIZE }] } })], /hash must be a sha256 hex name or null/],
      [[line({ done: { stats: stats() } })], /manifest must be a list/],
      [['x'.repeat(4 * 1024 * 1024)], /a line longer than \d+ bytes/],
    ];
    for (const [lines, why] of cases) {
      const r = await send(lines);
      expect(r.done).toBeNull();
      expect(r.progress).toEqual([]);
      expect(r.err).toBeInstanceOf(DomainError);
      expect((r.err as DomainError).code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
      expect(isRetryable(r.err)).toBe(false);
      expect((r.err as Error).message).toMatch(why);
    }
  });
});
