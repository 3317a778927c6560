/**
 * The demo server `npm run sandbox` boots in its first cloud, so a newcomer has something to
 * import and clone at once. Booted through the cloud's own HTTP API (Keystone token, then Nova),
 * as any client would, and waited for until ACTIVE.
 */
import type { SandboxCloud } from './cloud/cloud';

export interface DemoServer {
  id: string;
  name: string;
}

async function call(url: string, init: RequestInit & { json?: unknown }): Promise<Response> {
  const { json, ...rest } = init;
  const res = await fetch(url, {
    ...rest,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(rest.headers as Record<string, string>) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

export async function bootDemoServer(cloud: SandboxCloud, name = 'demo-sip', timeoutMs = 60_000): Promise<DemoServer> {
  const info = cloud.info();
  const pw = info.credentials.password;
  const auth = await call(`${info.authUrl}/auth/tokens`, {
    method: 'POST',
    json: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: pw.username, domain: { name: pw.userDomainName }, password: pw.password } } },
        scope: { project: { name: pw.projectName, domain: { name: pw.projectDomainName } } },
      },
    },
  });
  const headers = { 'x-auth-token': auth.headers.get('x-subject-token') ?? '', 'openstack-api-version': 'compute 2.79' };
  const images = (await (await call(`${info.endpoints.image}/v2/images?name=cirros-sandbox&status=active`, { headers })).json()) as { images: { id: string }[] };
  const image = images.images[0];
  if (!image) throw new Error(`cloud ${info.name} has no active cirros-sandbox image to boot the demo server from`);
  const created = await call(`${info.endpoints.compute}/servers`, {
    method: 'POST',
    headers,
    json: { server: { name, imageRef: image.id, flavorRef: '1', networks: [{ uuid: info.networks.private.id }] } },
  });
  const { server } = (await created.json()) as { server: { id: string } };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = (await (await call(`${info.endpoints.compute}/servers/${server.id}`, { headers })).json()) as { server: { status: string } };
    if (shown.server.status === 'ACTIVE') return { id: server.id, name };
    if (shown.server.status === 'ERROR') throw new Error(`demo server ${server.id} went to ERROR in cloud ${info.name}`);
    if (Date.now() > deadline) throw new Error(`demo server ${server.id} not ACTIVE after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
