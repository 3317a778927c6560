/** Keystone v3 over HTTP: discovery, both auth methods, catalog, validation, expiry, errors. */
import type { Sandbox, SandboxCloud } from '../../sandbox';
import { http, login, startTestSandbox, waitFor } from './sandbox-test-kit';

let sandbox: Sandbox;
let cloud: SandboxCloud;

beforeAll(async () => {
  sandbox = await startTestSandbox([{ name: 'ks', region: 'RegionTest' }]);
  cloud = sandbox.cloud('ks');
});
afterAll(() => sandbox.stop());

const passwordBody = (password: string) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password } } },
    scope: { project: { name: 'admin', domain: { id: 'default' } } },
  },
});

test('version discovery: GET /v3 and the unversioned root', async () => {
  const v3 = await http('GET', cloud.authUrl);
  expect(v3.status).toBe(200);
  expect(v3.json().version).toMatchObject({ id: 'v3.14', status: 'stable', links: [{ rel: 'self', href: `${cloud.authUrl}/` }] });
  const root = await http('GET', cloud.authUrl.replace(/\/v3$/, '/'));
  expect(root.status).toBe(300);
  expect(root.json().versions.values[0].id).toBe('v3.14');
});

test('password auth: 201, token in X-Subject-Token, token body with project, user, roles and catalog', async () => {
  const res = await http('POST', `${cloud.authUrl}/auth/tokens`, { json: passwordBody('admin') });
  expect(res.status).toBe(201);
  expect(res.header('x-subject-token')).toMatch(/^gAAAAA/);
  const token = res.json().token;
  expect(token.methods).toEqual(['password']);
  expect(token.user).toMatchObject({ name: 'admin', domain: { id: 'default', name: 'Default' } });
  expect(token.project).toMatchObject({ name: 'admin', domain: { id: 'default' } });
  expect(token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['admin', 'member', 'reader']);
  expect(Date.parse(token.expires_at)).toBeGreaterThan(Date.now());
  expect(token.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

  const types = token.catalog.map((s: { type: string }) => s.type).sort();
  expect(types).toEqual(['compute', 'identity', 'image', 'network']);
  for (const service of token.catalog) {
    expect(service.endpoints.map((e: { interface: string }) => e.interface).sort()).toEqual(['admin', 'internal', 'public']);
    for (const e of service.endpoints) expect(e).toMatchObject({ region_id: 'RegionTest', region: 'RegionTest' });
  }
  const compute = token.catalog.find((s: { type: string }) => s.type === 'compute');
  expect(compute.endpoints[0].url).toBe(cloud.urls.compute);
});

test('application credential auth by id + secret', async () => {
  const ac = cloud.credentials.applicationCredential;
  const res = await http('POST', `${cloud.authUrl}/auth/tokens`, {
    json: { auth: { identity: { methods: ['application_credential'], application_credential: { id: ac.applicationCredentialId, secret: ac.applicationCredentialSecret } } } },
  });
  expect(res.status).toBe(201);
  const token = res.json().token;
  expect(token.methods).toEqual(['application_credential']);
  expect(token.project.name).toBe('admin');
  expect(token.application_credential).toMatchObject({ id: ac.applicationCredentialId, restricted: true });
  expect(token.catalog.length).toBe(4);

  const bad = await http('POST', `${cloud.authUrl}/auth/tokens`, {
    json: { auth: { identity: { methods: ['application_credential'], application_credential: { id: ac.applicationCredentialId, secret: 'nope' } } } },
  });
  expect(bad.status).toBe(401);
});

test('bad password: 401 with the Keystone error body', async () => {
  const res = await http('POST', `${cloud.authUrl}/auth/tokens`, { json: passwordBody('wrong') });
  expect(res.status).toBe(401);
  expect(res.json()).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
  expect(res.header('x-subject-token')).toBeUndefined();
});

test('malformed body: 400 in the Keystone error shape', async () => {
  const res = await http('POST', `${cloud.authUrl}/auth/tokens`, { json: { auth: {} } });
  expect(res.status).toBe(400);
  expect(res.json().error).toMatchObject({ code: 400, title: 'Bad Request' });
});

test('GET /v3/auth/tokens validates a subject token; 404 for an unknown one', async () => {
  const token = await login(cloud);
  const ok = await http('GET', `${cloud.authUrl}/auth/tokens`, { token, headers: { 'x-subject-token': token } });
  expect(ok.status).toBe(200);
  expect(ok.header('x-subject-token')).toBe(token);
  expect(ok.json().token.project.name).toBe('admin');
  const unknown = await http('GET', `${cloud.authUrl}/auth/tokens`, { token, headers: { 'x-subject-token': 'gAAAAABnope' } });
  expect(unknown.status).toBe(404);
  const noAuth = await http('GET', `${cloud.authUrl}/auth/tokens`, { headers: { 'x-subject-token': token } });
  expect(noAuth.status).toBe(401);
});

test('DELETE /v3/auth/tokens revokes a token', async () => {
  const admin = await login(cloud);
  const victim = await login(cloud);
  expect((await http('DELETE', `${cloud.authUrl}/auth/tokens`, { token: admin, headers: { 'x-subject-token': victim } })).status).toBe(204);
  expect((await http('GET', `${cloud.urls.compute}/flavors`, { token: victim })).status).toBe(401);
  expect((await http('GET', `${cloud.urls.compute}/flavors`, { token: admin })).status).toBe(200);
});

test('services reject requests without a valid token (401, keystonemiddleware body)', async () => {
  for (const url of [`${cloud.urls.compute}/servers`, `${cloud.urls.image}/v2/images`, `${cloud.urls.network}/v2.0/networks`]) {
    const res = await http('GET', url, { token: 'gAAAAABforged' });
    expect(res.status).toBe(401);
    expect(res.json().error.code).toBe(401);
    expect(res.header('www-authenticate')).toBe(`Keystone uri="${cloud.authUrl}"`);
  }
});

test('token lifetime is configurable and tokens expire (clients must renew)', async () => {
  await cloud.control.setTokenLifetime(1);
  try {
    const res = await http('POST', `${cloud.authUrl}/auth/tokens`, { json: passwordBody('admin') });
    const { issued_at, expires_at } = res.json().token;
    expect(Date.parse(expires_at) - Date.parse(issued_at)).toBe(1000);
    const token = res.header('x-subject-token')!;
    await waitFor('token expiry', async () => ((await http('GET', `${cloud.urls.compute}/flavors`, { token })).status === 401 ? true : undefined), 5000);
  } finally {
    await cloud.control.setTokenLifetime(3600);
  }
});

test('revokeTokens forces every client to re-authenticate', async () => {
  const token = await login(cloud);
  expect((await http('GET', `${cloud.urls.compute}/flavors`, { token })).status).toBe(200);
  expect(await cloud.control.revokeTokens()).toBeGreaterThan(0);
  expect((await http('GET', `${cloud.urls.compute}/flavors`, { token })).status).toBe(401);
});

test('configured users, projects and scoping: a token only sees its project', async () => {
  const multi = await startTestSandbox([
    {
      name: 'multi',
      users: [
        { name: 'admin', password: 'admin', projects: [{ name: 'admin', roles: ['admin'] }] },
        { name: 'alice', password: 'secret', projects: [{ name: 'team-a' }] },
      ],
    },
  ]);
  try {
    const c = multi.cloud('multi');
    const res = await http('POST', `${c.authUrl}/auth/tokens`, {
      json: {
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'alice', domain: { name: 'Default' }, password: 'secret' } } },
          scope: { project: { name: 'team-a', domain: { name: 'Default' } } },
        },
      },
    });
    expect(res.status).toBe(201);
    expect(res.json().token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['member', 'reader']);
    const denied = await http('POST', `${c.authUrl}/auth/tokens`, {
      json: {
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'alice', domain: { name: 'Default' }, password: 'secret' } } },
          scope: { project: { name: 'admin', domain: { name: 'Default' } } },
        },
      },
    });
    expect(denied.status).toBe(401);
  } finally {
    await multi.stop();
  }
});

test('read-only identity API: projects, users, endpoints for admins; 403 for a member listing projects', async () => {
  const token = await login(cloud);
  const projects = (await http('GET', `${cloud.authUrl}/projects`, { token })).json().projects;
  expect(projects.map((p: { name: string }) => p.name)).toEqual(['admin']);
  const project = (await http('GET', `${cloud.authUrl}/projects/${projects[0].id}`, { token })).json().project;
  expect(project).toMatchObject({ name: 'admin', domain_id: 'default', enabled: true });
  const users = (await http('GET', `${cloud.authUrl}/users?name=admin`, { token })).json().users;
  expect(users).toHaveLength(1);
  const endpoints = (await http('GET', `${cloud.authUrl}/endpoints?interface=public`, { token })).json().endpoints;
  expect(endpoints).toHaveLength(4);
  expect(endpoints.every((e: { region_id: string }) => e.region_id === 'RegionTest')).toBe(true);

  const multi = await startTestSandbox([
    { name: 'members', users: [{ name: 'admin', password: 'admin', projects: [{ name: 'admin', roles: ['admin'] }] }, { name: 'bob', password: 'pw', projects: [{ name: 'team' }] }] },
  ]);
  try {
    const c = multi.cloud('members');
    const res = await http('POST', `${c.authUrl}/auth/tokens`, {
      json: { auth: { identity: { methods: ['password'], password: { user: { name: 'bob', domain: { id: 'default' }, password: 'pw' } } }, scope: { project: { name: 'team', domain: { id: 'default' } } } } },
    });
    const bob = res.header('x-subject-token')!;
    const denied = await http('GET', `${c.authUrl}/projects`, { token: bob });
    expect(denied.status).toBe(403);
    expect(denied.json().error.message).toContain('identity:list_projects');
    const own = await http('GET', `${c.authUrl}/users/${res.json().token.user.id}/projects`, { token: bob });
    expect(own.json().projects.map((p: { name: string }) => p.name)).toEqual(['team']);
  } finally {
    await multi.stop();
  }
});
