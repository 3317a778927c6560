/** Create a tenant with a token of the given role through the API, as an admin would. */
import { gqlOk } from './graphql';

export interface TenantToken {
  tenantId: string;
  token: string;
}

export async function createTenantWithToken(url: string, adminToken: string, name: string, role = 'OPERATOR'): Promise<TenantToken> {
  const { createTenant } = await gqlOk(url, adminToken, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }`, { input: { name } });
  const { createApiToken } = await gqlOk(
    url,
    adminToken,
    `mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { secret } }`,
    { input: { tenantId: createTenant.id, role, name: `${name}-${role.toLowerCase()}` } },
  );
  return { tenantId: createTenant.id, token: createApiToken.secret };
}

export async function addToken(url: string, adminToken: string, tenantId: string, role: string): Promise<string> {
  const { createApiToken } = await gqlOk(
    url,
    adminToken,
    `mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { secret } }`,
    { input: { tenantId, role, name: `extra-${role.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}` } },
  );
  return createApiToken.secret;
}
