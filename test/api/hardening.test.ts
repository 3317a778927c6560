/**
 * API hardening through real HTTP on in-process brokers: depth and cost limits, CSRF
 * prevention, body size limit, introspection switch, masked internal errors, the per-token
 * rate limit, health/readiness/metrics endpoints and authentication failures.
 */
import { Client } from 'pg';
import { request } from 'undici';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gql, gqlError, gqlOk } from '../support/graphql';

const MAX_DEPTH = 3;
const MAX_COST = 500;
const BODY_LIMIT = '4kb';

/** Sum of every series of a Prometheus counter in a /metrics text. */
function counterSum(metricsText: string, name: string): number {
  return metricsText
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function getText(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'GET', headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function postRaw(url: string, contentType: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const origin = (graphqlUrl: string) => new URL(graphqlUrl).origin;

describe('API hardening', () => {
  let db: TestDatabase;
  /** Limits lowered so that real queries can cross them. */
  let broker: TestBroker;
  let adminToken: string;

  const tenantNames = async () => (await gqlOk(broker.url, adminToken, '{ tenants { name } }')).tenants.map((t: { name: string }) => t.name);
  const vmTypeNames = async () => (await gqlOk(broker.url, adminToken, '{ vmTypes { name } }')).vmTypes.map((v: { name: string }) => v.name);
  const graphqlOperationsCounted = async () => counterSum((await getText(`${origin(broker.url)}/metrics`)).text, 'intercloud_graphql_operations_total');

  const adminTenantId = async () => (await gqlOk(broker.url, adminToken, '{ me { tenantId } }')).me.tenantId as string;
  const createToken = async (role: string, name: string) =>
    (
      await gqlOk(broker.url, adminToken, 'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { secret token { id } } }', {
        i: { tenantId: await adminTenantId(), role, name },
      })
    ).createApiToken as { secret: string; token: { id: string } };

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, {
      GRAPHQL_MAX_DEPTH: String(MAX_DEPTH),
      GRAPHQL_MAX_COST: String(MAX_COST),
      REQUEST_BODY_LIMIT: BODY_LIMIT,
    });
    adminToken = broker.adminToken;
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
  });

  describe('depth limit', () => {
    it('runs an operation exactly at GRAPHQL_MAX_DEPTH', async () => {
      // createApiToken > token > id: depth 3.
      const created = await createToken('VIEWER', 'depth-at-limit');
      expect(created.token.id).toEqual(expect.any(String));
    });

    it('refuses one level deeper with HTTP 400 and GRAPHQL_VALIDATION_FAILED, and runs nothing', async () => {
      const res = await gql(
        broker.url,
        adminToken,
        'mutation { createVmType(input: { name: "too-deep", minInstances: 0, maxInstances: 1 }) { configureRecipe { files { path } } } }',
      );
      expect(res.status).toBe(400);
      expect(res.data ?? null).toBeNull();
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(res.errors![0].extensions?.rule).toBe('maxDepth');
      expect(res.errors![0].message).toContain(`limit of ${MAX_DEPTH}`);
      expect(await vmTypeNames()).not.toContain('too-deep');
    });

    it('counts depth through fragments', async () => {
      const res = await gql(
        broker.url,
        adminToken,
        `query { vmTypes { ...T } }
         fragment T on VmType { configureRecipe { files { path } } }`,
      );
      expect(res.status).toBe(400);
      expect(res.errors?.[0].extensions?.rule).toBe('maxDepth');
    });
  });

  describe('cost limit', () => {
    it('runs a query under GRAPHQL_MAX_COST', async () => {
      // 100 entries x (1 + 3 fields) = 400
      const data = await gqlOk(broker.url, adminToken, '{ auditLog(first: 100) { seq action objectId } }');
      expect(Array.isArray(data.auditLog)).toBe(true);
    });

    it('refuses a query over GRAPHQL_MAX_COST with HTTP 400', async () => {
      // 200 entries x (1 + 3 fields) = 800
      const res = await gql(broker.url, adminToken, '{ auditLog(first: 200) { seq action objectId } }');
      expect(res.status).toBe(400);
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.[0].extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxCost' });
      expect(res.errors?.[0].message).toContain(`limit of ${MAX_COST}`);
    });

    it('refuses a costly batch of mutations before running any of them', async () => {
      // 30 aliases x (1 + 10 x (1 + 1)) = 630, each only depth 3.
      const fields = Array.from({ length: 30 }, (_, i) => `m${i}: createVmType(input: $i) { thresholds { metric } }`).join('\n');
      const res = await gql(broker.url, adminToken, `mutation($i: VmTypeInput!) {\n${fields}\n}`, {
        i: { name: 'too-costly', minInstances: 0, maxInstances: 1 },
      });
      expect(res.status).toBe(400);
      expect(res.errors?.[0].extensions?.rule).toBe('maxCost');
      expect(await vmTypeNames()).not.toContain('too-costly');
    });
  });

  describe('CSRF prevention', () => {
    const csrfProbe = 'mutation { createTenant(input: { name: "csrf-probe" }) { id } }';

    it('refuses a GET without a preflight header, before running the operation', async () => {
      const before = await graphqlOperationsCounted();
      const res = await getText(`${broker.url}?query=${encodeURIComponent('{ me { role } }')}`, { authorization: `Bearer ${adminToken}` });
      expect(res.status).toBe(400);
      const body = JSON.parse(res.text);
      expect(body.data).toBeUndefined();
      expect(body.errors[0].message).toMatch(/Cross-Site Request Forgery/);
      // Apollo's request pipeline never started: the operation counter did not move.
      expect(await graphqlOperationsCounted()).toBe(before);
    });

    it('answers the same GET when it carries apollo-require-preflight', async () => {
      const res = await getText(`${broker.url}?query=${encodeURIComponent('{ me { role } }')}`, {
        authorization: `Bearer ${adminToken}`,
        'apollo-require-preflight': 'true',
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({ data: { me: { role: 'ADMIN' } } });
    });

    it('refuses a text/plain POST (a "simple" cross-site request) and the mutation does not happen', async () => {
      const res = await postRaw(broker.url, 'text/plain', JSON.stringify({ query: csrfProbe }), { authorization: `Bearer ${adminToken}` });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).errors[0].message).toMatch(/Cross-Site Request Forgery/);
      expect(await tenantNames()).not.toContain('csrf-probe');
    });

    it('the refused body was a valid mutation: sent as JSON it runs', async () => {
      const res = await postRaw(broker.url, 'application/json', JSON.stringify({ query: csrfProbe }), { authorization: `Bearer ${adminToken}` });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text).data.createTenant.id).toEqual(expect.any(String));
      expect(await tenantNames()).toContain('csrf-probe');
    });
  });

  describe('request body limit', () => {
    it('answers a body over REQUEST_BODY_LIMIT with 413 and a JSON error, without running it', async () => {
      const body = JSON.stringify({
        query: 'mutation($n: String!) { createTenant(input: { name: $n }) { id } }',
        variables: { n: 'too-big', padding: 'x'.repeat(8 * 1024) },
      });
      const res = await postRaw(broker.url, 'application/json', body, { authorization: `Bearer ${adminToken}` });
      expect(res.status).toBe(413);
      expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
      const parsed = JSON.parse(res.text);
      expect(parsed.errors).toHaveLength(1);
      expect(parsed.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
      expect(parsed.errors[0].message).toContain(BODY_LIMIT);
      expect(await tenantNames()).not.toContain('too-big');
    });

    it('answers malformed JSON with 400 and a JSON error', async () => {
      const res = await postRaw(broker.url, 'application/json', '{"query": "{ me { role } }"', { authorization: `Bearer ${adminToken}` });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).errors[0].extensions.code).toBe('BAD_REQUEST');
    });
  });

  describe('introspection', () => {
    let closed: TestBroker;

    beforeAll(async () => {
      closed = await startTestBroker(db.url, { GRAPHQL_INTROSPECTION: 'false', INTERCLOUD_ADMIN_TOKEN: adminToken });
    });

    afterAll(async () => {
      await closed?.stop();
    });

    it('is enabled by default', async () => {
      const data = await gqlOk(broker.url, adminToken, '{ __schema { queryType { name } } __type(name: "Cloud") { name } }');
      expect(data).toEqual({ __schema: { queryType: { name: 'Query' } }, __type: { name: 'Cloud' } });
    });

    it('is refused with GRAPHQL_INTROSPECTION=false', async () => {
      for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Cloud") { fields { name } } }']) {
        const res = await gql(closed.url, adminToken, query);
        expect(res.status).toBe(400);
        expect(res.data ?? null).toBeNull();
        expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(res.errors?.[0].message).toMatch(/introspection/i);
      }
    });

    it('still answers ordinary queries and __typename with introspection off', async () => {
      const data = await gqlOk(closed.url, adminToken, '{ __typename me { role } }');
      expect(data).toEqual({ __typename: 'Query', me: { role: 'ADMIN' } });
    });
  });

  describe('rate limit per token', () => {
    let limited: TestBroker;

    beforeAll(async () => {
      limited = await startTestBroker(db.url, { RATE_LIMIT_PER_MINUTE: '5', INTERCLOUD_ADMIN_TOKEN: adminToken });
    });

    afterAll(async () => {
      await limited?.stop();
    });

    it('refuses the 6th request of a token with HTTP 429, RATE_LIMITED and retry-after; another token is not affected', async () => {
      // Made through the other broker, so this broker's bucket for the admin token starts full.
      const viewer = await createToken('VIEWER', 'rate-limit-bystander');

      for (let i = 1; i <= 5; i++) {
        const res = await gql(limited.url, adminToken, '{ me { role } }');
        expect({ i, status: res.status, data: res.data }).toEqual({ i, status: 200, data: { me: { role: 'ADMIN' } } });
      }
      const refused = await gql(limited.url, adminToken, '{ me { role } }');
      expect(refused.status).toBe(429);
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(refused.errors?.[0].extensions?.retryAfterSeconds).toBe(retryAfter);

      const other = await gql(limited.url, viewer.secret, '{ me { role } }');
      expect(other.status).toBe(200);
      expect(other.data).toEqual({ me: { role: 'VIEWER' } });

      const metrics = (await getText(`${origin(limited.url)}/metrics`)).text;
      expect(counterSum(metrics, 'intercloud_rate_limited_total')).toBe(1);
    });
  });

  describe('health, readiness and metrics', () => {
    it('/healthz answers 200', async () => {
      const res = await getText(`${origin(broker.url)}/healthz`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({ status: 'ok' });
    });

    it('/readyz answers 200 while the database and the event listener are up', async () => {
      const res = await getText(`${origin(broker.url)}/readyz`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({ status: 'ready' });
    });

    it('/metrics is Prometheus text with the HTTP and GraphQL counters', async () => {
      await gqlOk(broker.url, adminToken, '{ me { role } }');
      const res = await getText(`${origin(broker.url)}/metrics`);
      expect(res.status).toBe(200);
      expect(String(res.headers['content-type'])).toMatch(/^text\/plain/);
      expect(res.text).toContain('# TYPE intercloud_http_requests_total counter');
      expect(res.text).toContain('# TYPE intercloud_graphql_operations_total counter');
      expect(res.text).toMatch(/^intercloud_graphql_operations_total\{type="query",outcome="ok"\} [1-9]\d*$/m);
      expect(res.text).toMatch(/^intercloud_http_requests_total\{route="\/healthz",status="200"\} [1-9]\d*$/m);
    });

    it('/metrics counts successful GraphQL requests under route="/graphql"', async () => {
      await gqlOk(broker.url, adminToken, '{ me { role } }');
      const res = await getText(`${origin(broker.url)}/metrics`);
      expect(res.text).toMatch(/^intercloud_http_requests_total\{route="\/graphql",status="200"\} [1-9]\d*$/m);
    });
  });

  describe('authentication', () => {
    it('answers `me` without a token with UNAUTHENTICATED and HTTP 401, like a bad token', async () => {
      // One rule: no token is refused exactly like a bad one, HTTP 401.
      const res = await gql(broker.url, null, '{ me { role } }');
      expect(res.status).toBe(401);
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    });

    it('answers an unknown token with UNAUTHENTICATED and HTTP 401', async () => {
      const res = await gql(broker.url, 'icb_not_a_token_at_all_0000000000000000000', '{ me { role } }');
      expect(res.status).toBe(401);
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    });

    it('stops accepting a token once it is revoked', async () => {
      const created = await createToken('OPERATOR', 'to-be-revoked');
      expect((await gqlOk(broker.url, created.secret, '{ me { role tokenName } }')).me).toEqual({ role: 'OPERATOR', tokenName: 'to-be-revoked' });

      const revoked = await gqlOk(broker.url, adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }', { id: created.token.id });
      expect(revoked.revokeApiToken.revokedAt).toEqual(expect.any(String));

      const res = await gql(broker.url, created.secret, '{ me { role } }');
      expect(res.status).toBe(401);
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    });
  });

  // Last: it breaks the database under the broker on purpose.
  describe('masked internal errors', () => {
    it('shows an unexpected failure as "Internal server error" with code INTERNAL and no SQL', async () => {
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        await pg.query('DROP TABLE scaling_decisions CASCADE');
      } finally {
        await pg.end();
      }
      const res = await gql(broker.url, adminToken, '{ scalingDecisions { id reason } }');
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0].message).toBe('Internal server error');
      expect(res.errors![0].extensions).toEqual({ code: 'INTERNAL' });
      expect(res.errors![0].path).toEqual(['scalingDecisions']);
      const raw = JSON.stringify({ data: res.data, errors: res.errors });
      for (const leak of ['scaling_decisions', 'relation', 'SELECT', 'QueryFailedError', 'stacktrace', 'typeorm', '42P01']) {
        expect(raw).not.toContain(leak);
      }
      // The broker keeps serving everything else.
      expect((await gqlOk(broker.url, adminToken, '{ me { role } }')).me.role).toBe('ADMIN');
    });
  });
});
