/** Tenants, API tokens and roles through the real HTTP API. */
import { DataSource } from 'typeorm';
import { ApiTokenEntity } from '../../src/domain/entities';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gql, gqlError, gqlOk } from '../support/graphql';

const CREATE_TENANT = `mutation($input: CreateTenantInput!) { createTenant(input: $input) { id name createdAt } }`;
const CREATE_TOKEN = `mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { secret token { id name role tenantId } } }`;
const ME = `{ me { tokenId tokenName tenantId tenantName role } }`;

describe('tenancy and API tokens', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let url: string;
  let admin: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    url = broker.url;
    admin = broker.adminToken;
  });

  afterAll(async () => {
    await broker.stop();
    await db.drop();
  });

  async function tenantWithToken(name: string, role: string) {
    const { createTenant } = await gqlOk(url, admin, CREATE_TENANT, { input: { name } });
    const { createApiToken } = await gqlOk(url, admin, CREATE_TOKEN, { input: { tenantId: createTenant.id, role, name: `${name}-${role}` } });
    return { tenantId: createTenant.id as string, token: createApiToken.secret as string };
  }

  it('answers me for the bootstrap admin token', async () => {
    const { me } = await gqlOk(url, admin, ME);
    expect(me).toMatchObject({ tenantName: 'admin', role: 'ADMIN' });
  });

  it('creates a tenant and a token whose secret authenticates as that tenant and role', async () => {
    const { tenantId, token } = await tenantWithToken('operator-de', 'OPERATOR');
    expect(token).toMatch(/^icb_[A-Za-z0-9_-]{43}$/);
    const { me } = await gqlOk(url, token, ME);
    expect(me).toMatchObject({ tenantId, tenantName: 'operator-de', role: 'OPERATOR', tokenName: 'operator-de-OPERATOR' });
  });

  it('stores only a hash of the secret, and never returns it again', async () => {
    const { token } = await tenantWithToken('hash-check', 'VIEWER');
    const ds: DataSource = broker.dataSource;
    const rows = await ds.getRepository(ApiTokenEntity).find();
    for (const row of rows) expect(row.secretHash).not.toContain(token);
    const dump = JSON.stringify(await ds.query('SELECT * FROM api_tokens'));
    expect(dump).not.toContain(token);
    const { apiTokens } = await gqlOk(url, token, `{ apiTokens { id name role } }`);
    expect(JSON.stringify(apiTokens)).not.toContain(token);
  });

  it('rejects a duplicate tenant name with CONFLICT naming the field', async () => {
    await tenantWithToken('dup-tenant', 'VIEWER');
    const err = await gqlError(url, admin, CREATE_TENANT, { input: { name: 'dup-tenant' } });
    expect(err.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
  });

  it.each([
    ['', 'must not be empty'],
    ['x'.repeat(65), 'at most 64'],
    ['bad/name', 'must start with a letter or digit'],
  ])('rejects tenant name %j with BAD_USER_INPUT on input.name', async (name, rule) => {
    const err = await gqlError(url, admin, CREATE_TENANT, { input: { name } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
    expect(err.extensions?.rule).toContain(rule);
  });

  it('rejects a token for an unknown tenant and a malformed tenant id', async () => {
    const unknown = await gqlError(url, admin, CREATE_TOKEN, { input: { tenantId: '6f1c1f2e-1111-4222-8333-944445555666', role: 'VIEWER', name: 'x' } });
    expect(unknown.extensions?.code).toBe('NOT_FOUND');
    const malformed = await gqlError(url, admin, CREATE_TOKEN, { input: { tenantId: 'nope', role: 'VIEWER', name: 'x' } });
    expect(malformed.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.tenantId' });
  });

  it('lets only admins create tenants', async () => {
    const { token } = await tenantWithToken('op-no-tenants', 'OPERATOR');
    const err = await gqlError(url, token, CREATE_TENANT, { input: { name: 'sneaky' } });
    expect(err.extensions?.code).toBe('FORBIDDEN');
    const { tenants } = await gqlOk(url, admin, `{ tenants { name } }`);
    expect(tenants.map((t: { name: string }) => t.name)).not.toContain('sneaky');
  });

  it('lets an operator create non-admin tokens for its own tenant only', async () => {
    const a = await tenantWithToken('op-a', 'OPERATOR');
    const b = await tenantWithToken('op-b', 'OPERATOR');
    const viewer = await gqlOk(url, a.token, CREATE_TOKEN, { input: { tenantId: a.tenantId, role: 'VIEWER', name: 'dashboard' } });
    const { me } = await gqlOk(url, viewer.createApiToken.secret, ME);
    expect(me).toMatchObject({ tenantId: a.tenantId, role: 'VIEWER' });

    const escalate = await gqlError(url, a.token, CREATE_TOKEN, { input: { tenantId: a.tenantId, role: 'ADMIN', name: 'root' } });
    expect(escalate.extensions?.code).toBe('FORBIDDEN');
    // Another tenant's id looks exactly like an unknown one.
    const foreign = await gqlError(url, a.token, CREATE_TOKEN, { input: { tenantId: b.tenantId, role: 'VIEWER', name: 'x' } });
    expect(foreign.extensions?.code).toBe('NOT_FOUND');
  });

  it('does not let viewers or partners create tokens', async () => {
    const v = await tenantWithToken('viewer-t', 'VIEWER');
    const p = await tenantWithToken('partner-t', 'PARTNER');
    for (const { tenantId, token } of [v, p]) {
      const err = await gqlError(url, token, CREATE_TOKEN, { input: { tenantId, role: 'VIEWER', name: 'x' } });
      expect(err.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('revokes a token so that it no longer authenticates', async () => {
    const { token } = await tenantWithToken('revoke-me', 'OPERATOR');
    const { me } = await gqlOk(url, token, ME);
    const { revokeApiToken } = await gqlOk(url, token, `mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }`, { id: me.tokenId });
    expect(revokeApiToken.revokedAt).toBeTruthy();
    const res = await gql(url, token, ME);
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('rejects missing and malformed bearer tokens with UNAUTHENTICATED', async () => {
    expect((await gqlError(url, null, ME)).extensions?.code).toBe('UNAUTHENTICATED');
    const bogus = await gql(url, 'icb_not-a-real-token', ME);
    expect(bogus.status).toBe(401);
    expect(bogus.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('writes an audit entry for each change, without secrets', async () => {
    const { tenantId, token } = await tenantWithToken('audited', 'OPERATOR');
    const { auditLog } = await gqlOk(url, token, `{ auditLog(first: 10) { action objectType objectId details } }`);
    expect(auditLog).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'apiToken.create', objectType: 'ApiToken' })]));
    expect(JSON.stringify(auditLog)).not.toContain(token);
    const { auditLog: adminLog } = await gqlOk(url, admin, `{ auditLog(first: 50) { action objectId } }`);
    expect(adminLog).toEqual(expect.arrayContaining([{ action: 'tenant.create', objectId: tenantId }]));
  });
});
