/**
 * The lean `POST /graphql` path (src/api/graphql-http.handler.ts) through real HTTP on an
 * in-process broker: the answers Express and body-parser used to give (body limit also without
 * Content-Length, strict JSON, non-UTF-8 charsets, the route metric), `cache-control: no-store`
 * with Apollo's cache-control plugin off, and the cost check that is remembered per document:
 * it must still refuse what variables or another operation of the same document make too dear.
 */
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gql, gqlOk } from '../support/graphql';

const BODY_LIMIT = '4kb';
const MAX_COST = 100;

async function post(url: string, headers: Record<string, string>, body: string | Readable) {
  const res = await request(url, { method: 'POST', headers, body });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** The text as a stream of `size`-byte chunks: undici sends it chunked, without Content-Length. */
function chunked(text: string, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(Buffer.from(text.slice(i, i + size)));
  return Readable.from(parts);
}

/** Sum of the series of a Prometheus counter whose labels contain `labels`. */
function counter(metricsText: string, name: string, labels: string): number {
  return metricsText
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('POST /graphql without Express', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let json: Record<string, string>;

  const tenantNames = async () => (await gqlOk(broker.url, broker.adminToken, '{ tenants { name } }')).tenants.map((t: { name: string }) => t.name);

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { REQUEST_BODY_LIMIT: BODY_LIMIT, GRAPHQL_MAX_COST: String(MAX_COST), CLONE_CONCURRENCY: '0' });
    json = { 'content-type': 'application/json', authorization: `Bearer ${broker.adminToken}` };
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
  });

  it('answers a chunked body (no Content-Length) that grows over REQUEST_BODY_LIMIT with 413, without running it', async () => {
    const body = JSON.stringify({ query: 'mutation($n: String!) { createTenant(input: { name: $n }) { id } }', variables: { n: 'chunked-too-big', padding: 'x'.repeat(8 * 1024) } });
    const res = await post(broker.url, json, chunked(body, 1024));
    expect(res.status).toBe(413);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    expect(JSON.parse(res.text).errors).toEqual([{ message: `request body exceeds ${BODY_LIMIT}`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }]);
    expect(await tenantNames()).not.toContain('chunked-too-big');
  });

  it('runs a chunked body under the limit', async () => {
    const body = JSON.stringify({ query: 'mutation($n: String!) { createTenant(input: { name: $n }) { id } }', variables: { n: 'chunked-ok' } });
    const res = await post(broker.url, json, chunked(body, 7));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).data.createTenant.id).toEqual(expect.any(String));
  });

  it('answers JSON that is not an object or array with 400 BAD_REQUEST, and an empty body as Apollo answers {}', async () => {
    for (const body of ['"{ me { role } }"', '42', 'null', ' \n x']) {
      const res = await post(broker.url, json, body);
      expect({ body, status: res.status, errors: JSON.parse(res.text).errors }).toEqual({
        body,
        status: 400,
        errors: [{ message: 'malformed request body', extensions: { code: 'BAD_REQUEST' } }],
      });
    }
    const empty = await post(broker.url, json, '');
    expect(empty.status).toBe(400);
    expect(JSON.parse(empty.text).errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('serves application/json with charset=utf-8 and leaves other charsets to body-parser (refused)', async () => {
    const ok = await post(broker.url, { ...json, 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ query: '{ me { role } }' }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).data).toEqual({ me: { role: 'ADMIN' } });
    const latin1 = await post(broker.url, { ...json, 'content-type': 'application/json; charset=latin1' }, JSON.stringify({ query: '{ me { role } }' }));
    expect(latin1.status).toBe(415);
    expect(JSON.parse(latin1.text).errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('marks answers and errors cache-control: no-store', async () => {
    const ok = await gql(broker.url, broker.adminToken, '{ me { role } }');
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    const unauthenticated = await gql(broker.url, null, '{ me { role } }');
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers['cache-control']).toBe('no-store');
    const invalid = await gql(broker.url, broker.adminToken, '{ me { nope } }');
    expect(invalid.status).toBe(400);
    expect(invalid.headers['cache-control']).toBe('no-store');
  });

  it('counts POST /graphql in intercloud_http_requests_total by status', async () => {
    const metrics = async () => (await request(`${new URL(broker.url).origin}/metrics`)).body.text();
    const before = await metrics();
    await gqlOk(broker.url, broker.adminToken, '{ me { role } }');
    await gql(broker.url, null, '{ me { role } }');
    const after = await metrics();
    const delta = (status: string) =>
      counter(after, 'intercloud_http_requests_total', `route="/graphql",status="${status}"`) - counter(before, 'intercloud_http_requests_total', `route="/graphql",status="${status}"`);
    expect(delta('200')).toBe(1);
    expect(delta('401')).toBe(1);
  });

  describe('the cost check remembered per document', () => {
    const maxCost = [{ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxCost' }];

    it('refuses the same text with dearer variables after it passed with cheap ones', async () => {
      const query = 'query($n: Int) { auditLog(first: $n) { seq } }';
      for (let i = 0; i < 2; i++) expect((await gql(broker.url, broker.adminToken, query, { n: 5 })).status).toBe(200);
      const dear = await gql(broker.url, broker.adminToken, query, { n: 400 });
      expect({ status: dear.status, errors: dear.errors?.map((e) => e.extensions) }).toEqual({ status: 400, errors: maxCost });
    });

    it('refuses the dear operation of a document whose cheap operation passed, and a dear document every time', async () => {
      const query = 'query Cheap { auditLog(first: 5) { seq } } query Dear { auditLog(first: 400) { seq } }';
      for (let i = 0; i < 2; i++) {
        const cheap = await request(broker.url, { method: 'POST', headers: json, body: JSON.stringify({ query, operationName: 'Cheap' }) });
        expect(cheap.statusCode).toBe(200);
        await cheap.body.text();
      }
      for (let i = 0; i < 2; i++) {
        const res = await request(broker.url, { method: 'POST', headers: json, body: JSON.stringify({ query, operationName: 'Dear' }) });
        const body = (await res.body.json()) as { errors?: { extensions: unknown }[] };
        expect({ status: res.statusCode, errors: body.errors?.map((e) => e.extensions) }).toEqual({ status: 400, errors: maxCost });
      }
    });
  });
});
