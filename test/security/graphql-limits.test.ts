/**
 * GraphQL limits over real HTTP on in-process brokers and real PostgreSQL: a fragment fan-out is
 * refused at once (and /healthz answers meanwhile), introspection nesting counts, every list
 * argument `first` has a range, aliases and tokens are bounded, callers without a valid token are
 * rate-limited per address before anything is parsed, and mutations that reach outside the broker
 * count per execution, aliases included.
 */
import crypto from 'node:crypto';
import { request } from 'undici';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { PAGE_SIZE } from '../../src/domain/page-size';
import { startTestBroker, TestBroker } from '../support/broker';
import { setUpClone } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gql, gqlOk } from '../support/graphql';
import { aliasedMe, fanOut, introspectionNesting } from '../support/hostile-documents';
import { labCloudApiFactory, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { addToken, createTenantWithToken } from '../support/tenants';

const MAX_ALIASES = 5;
const MAX_TOKENS = 1000;

/** Loopback sandbox clouds over plain HTTP: settings the cloud-endpoint policy asks for (ignored where it does not exist). */
const LAB_CLOUDS = { CLOUD_ENDPOINT_ALLOW: '127.0.0.0/8', CLOUD_ALLOW_INSECURE_HTTP: 'true' };

const origin = (graphqlUrl: string) => new URL(graphqlUrl).origin;

async function getText(url: string) {
  const res = await request(url, { method: 'GET' });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Sum of every series of a Prometheus counter (optionally only those whose labels contain `labels`). */
async function counter(graphqlUrl: string, name: string, labels = ''): Promise<number> {
  const { text } = await getText(`${origin(graphqlUrl)}/metrics`);
  return text
    .split('\n')
    .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('GraphQL limits over HTTP', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let adminToken: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { GRAPHQL_MAX_ALIASES: String(MAX_ALIASES), GRAPHQL_MAX_TOKENS: String(MAX_TOKENS), CLONE_CONCURRENCY: '0', ...LAB_CLOUDS });
    adminToken = broker.adminToken;
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
  });

  it('refuses a ~1 KB fragment fan-out (2^30 spreads) with a limit error, with or without a token, while /healthz keeps answering', async () => {
    const document = fanOut(30);
    expect(document.length).toBeLessThan(1300);
    for (const token of [adminToken, null]) {
      const refused = gql(broker.url, token, document);
      // Asked while the fan-out is in flight: an exponential walk would block the event loop for good.
      const health = await getText(`${origin(broker.url)}/healthz`);
      expect(health).toEqual({ status: 200, text: JSON.stringify({ status: 'ok' }) });
      const res = await refused;
      expect(res.status).toBe(400);
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.map((e) => e.extensions)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxCost' }]);
    }
  });

  it('refuses introspection nesting by depth (introspection fields count)', async () => {
    // __schema > types > fields > type > 6 x ofType > name: 11 levels, the default limit is 10.
    for (const token of [adminToken, null]) {
      const res = await gql(broker.url, token, introspectionNesting(6));
      expect(res.status).toBe(400);
      expect(res.errors?.map((e) => e.extensions)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxDepth' }]);
    }
    expect((await gqlOk(broker.url, adminToken, introspectionNesting(5))).__schema.types.length).toBeGreaterThan(0);
  });

  it('refuses negative, zero and huge `first` on every list field as BAD_USER_INPUT naming it, before anything runs', async () => {
    const fields = [
      (first: string) => `auditLog(first: ${first}) { seq }`,
      (first: string) => `cloneJobs(first: ${first}) { totalCount }`,
      (first: string) => `scalingDecisions(first: ${first}) { id }`,
      (first: string) => `samples(vmId: "${crypto.randomUUID()}", metric: "calls", first: ${first}) { state }`,
    ];
    const rule = `must be between ${PAGE_SIZE.min} and ${PAGE_SIZE.max}`;
    for (const field of fields) {
      for (const n of [-1, 0, PAGE_SIZE.max + 1, 2_147_483_647]) {
        for (const [query, variables] of [
          [`{ ${field(String(n))} }`, {}],
          [`query($n: Int) { ${field('$n')} }`, { n }],
        ] as const) {
          const res = await gql(broker.url, adminToken, query, variables);
          expect({ query, n, status: res.status, data: res.data ?? null, errors: res.errors?.map((e) => e.extensions) }).toEqual({
            query,
            n,
            status: 400,
            data: null,
            errors: [{ code: 'BAD_USER_INPUT', field: 'first', rule }],
          });
        }
      }
    }
    expect((await gqlOk(broker.url, adminToken, `{ auditLog(first: ${PAGE_SIZE.max}) { seq } }`)).auditLog).toEqual(expect.any(Array));
  });

  it('runs GRAPHQL_MAX_ALIASES aliases and refuses one more, also when fragments multiply them', async () => {
    const ok = await gqlOk(broker.url, adminToken, aliasedMe(MAX_ALIASES));
    expect(Object.keys(ok)).toHaveLength(MAX_ALIASES);
    for (const query of [aliasedMe(MAX_ALIASES + 1), '{ ...A ...A } fragment A on Query { a: me { role } b: me { role } c: me { role } }']) {
      const res = await gql(broker.url, adminToken, query);
      expect(res.status).toBe(400);
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.map((e) => e.extensions)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxAliases' }]);
      expect(res.errors?.[0].message).toContain(`limit of ${MAX_ALIASES}`);
    }
  });

  it('stops parsing a document over GRAPHQL_MAX_TOKENS', async () => {
    const res = await gql(broker.url, null, `{ me { role ${'__typename '.repeat(MAX_TOKENS)}} }`);
    expect(res.status).toBe(400);
    expect(res.errors?.map((e) => e.extensions)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxTokens' }]);
    expect(res.errors?.[0].message).toContain(`more than ${MAX_TOKENS} tokens`);
  });

  describe('callers without a valid token', () => {
    let anon: TestBroker;

    beforeAll(async () => {
      anon = await startTestBroker(db.url, { RATE_LIMIT_ANONYMOUS_PER_MINUTE: '3', CLONE_CONCURRENCY: '0', INTERCLOUD_ADMIN_TOKEN: adminToken });
    });

    afterAll(async () => {
      await anon?.stop();
    });

    it('are rate-limited per address before anything is parsed; bad tokens count too, valid tokens go on', async () => {
      // A token's first request here spends a unit (nothing vouches for it yet); once it has
      // authenticated, it is admitted without spending the address's budget.
      expect((await gqlOk(anon.url, adminToken, '{ me { role } }')).me.role).toBe('ADMIN');
      const none = await gql(anon.url, null, '{ __typename }');
      expect({ status: none.status, code: none.errors?.[0].extensions?.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
      const bad = await gql(anon.url, `icb_${crypto.randomBytes(32).toString('base64url')}`, '{ __typename }');
      expect({ status: bad.status, code: bad.errors?.[0].extensions?.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });

      // The budget (3) is spent: refused before parsing, so even a malformed document gets 429.
      for (const [token, query] of [
        [null, '{ __typename }'],
        [null, '{{{ not graphql'],
        [`icb_${crypto.randomBytes(32).toString('base64url')}`, '{ __typename }'],
      ] as const) {
        const refused = await gql(anon.url, token, query);
        expect(refused.status).toBe(429);
        expect(refused.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
        const retryAfter = Number(refused.headers['retry-after']);
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(refused.errors?.[0].extensions?.retryAfterSeconds).toBe(retryAfter);
      }

      expect((await gqlOk(anon.url, adminToken, '{ me { role } }')).me.role).toBe('ADMIN');
      expect(await counter(anon.url, 'intercloud_rate_limited_total', 'limit="address"')).toBe(3);
    });
  });

  describe('mutations that reach outside the broker', () => {
    const PER_MINUTE = 4;
    let limited: TestBroker;
    let sandbox: Sandbox;
    const factory = labCloudApiFactory();

    beforeAll(async () => {
      sandbox = await startSandboxClouds('sec-src', 'sec-dst');
      limited = await startTestBroker(db.url, { RATE_LIMIT_PER_MINUTE: String(PER_MINUTE), CLONE_CONCURRENCY: '0', INTERCLOUD_ADMIN_TOKEN: adminToken, ...LAB_CLOUDS });
    });

    afterAll(async () => {
      await limited?.stop();
      await factory.close();
      await sandbox?.stop();
    });

    /** `n` aliases of one mutation, each with its own variable. */
    const aliased = (n: number, inputType: string, field: string, selection: string) =>
      `mutation(${Array.from({ length: n }, (_, i) => `$i${i + 1}: ${inputType}!`).join(', ')}) {\n${Array.from({ length: n }, (_, i) => `m${i + 1}: ${field}(input: $i${i + 1}) { ${selection} }`).join('\n')}\n}`;

    /** Each execution counts; the request's own unit covers the first: PER_MINUTE run, the next is RATE_LIMITED, and (non-null) nothing after it runs. */
    function expectChargedPerExecution(res: Awaited<ReturnType<typeof gql>>) {
      const limitedErrors = res.errors?.filter((e) => e.extensions?.code === 'RATE_LIMITED') ?? [];
      expect(limitedErrors.map((e) => e.path)).toEqual([[`m${PER_MINUTE + 1}`]]);
      expect(limitedErrors[0].extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }

    it('counts every aliased registerCloud execution toward the per-token limit', async () => {
      const partner = await createTenantWithToken(broker.url, adminToken, 'sec-partner', 'PARTNER');
      const names = Array.from({ length: 6 }, (_, i) => `sec-aliased-${i + 1}`);
      const variables = Object.fromEntries(names.map((name, i) => [`i${i + 1}`, registerCloudInput(sandbox.cloud('sec-src'), name)]));
      const res = await gql(limited.url, partner.token, aliased(6, 'RegisterCloudInput', 'registerCloud', 'id'), variables);
      expectChargedPerExecution(res);
      const registered = (await gqlOk(broker.url, partner.token, '{ clouds { name owned } }')).clouds.filter((c: { owned: boolean }) => c.owned).map((c: { name: string }) => c.name);
      expect(registered.sort()).toEqual(names.slice(0, PER_MINUTE));
    });

    it('counts every aliased updateCloud execution toward the per-token limit', async () => {
      const partner = await createTenantWithToken(broker.url, adminToken, 'sec-updater', 'PARTNER');
      const { registerCloud } = await gqlOk(broker.url, partner.token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, {
        input: registerCloudInput(sandbox.cloud('sec-dst'), 'sec-updated'),
      });
      // A token of its own, so only the aliased updates count against it.
      const updater = await addToken(broker.url, adminToken, partner.tenantId, 'PARTNER');
      // Each execution checks its defaults against the cloud: a call outside the broker every time.
      const doc = `mutation($id: ID!) {\n${Array.from({ length: 6 }, (_, i) => `m${i + 1}: updateCloud(id: $id, input: { costPerHour: ${i + 1}, defaults: { flavor: "m1.tiny" } }) { costPerHour }`).join('\n')}\n}`;
      const res = await gql(limited.url, updater, doc, { id: registerCloud.id });
      expectChargedPerExecution(res);
      // Mutations run in order: the last one that ran set the cost, and only those that ran are audited.
      const { cloud } = await gqlOk(broker.url, partner.token, `query($id: ID!) { cloud(id: $id) { costPerHour } }`, { id: registerCloud.id });
      expect(cloud.costPerHour).toBe(PER_MINUTE);
      const { auditLog } = await gqlOk(broker.url, partner.token, `{ auditLog(first: 50) { action objectId } }`);
      expect(auditLog.filter((a: { action: string; objectId: string }) => a.action === 'cloud.update' && a.objectId === registerCloud.id)).toHaveLength(PER_MINUTE);
    });

    it('counts every aliased cloneVm execution toward the per-token limit', async () => {
      const fixture = await setUpClone(broker.url, adminToken, sandbox, factory, 'sec-src', 'sec-dst');
      const { vmId } = await fixture.importNewVm();
      const variables = Object.fromEntries(
        Array.from({ length: 6 }, (_, i) => [`i${i + 1}`, { vmId, targetCloudId: fixture.targetCloudId, idempotencyKey: `sec-aliased-${i + 1}` }]),
      );
      const res = await gql(limited.url, fixture.tenant.token, aliased(6, 'CloneVmInput', 'cloneVm', 'id'), variables);
      expectChargedPerExecution(res);
      expect((await gqlOk(broker.url, fixture.tenant.token, '{ cloneJobs { totalCount } }')).cloneJobs.totalCount).toBe(PER_MINUTE);
    });
  });
});
