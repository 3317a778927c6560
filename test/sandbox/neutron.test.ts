/** Neutron v2.0 over HTTP: networks, ports of a server, floating IP lifecycle shown in Nova, errors. */
import type { Sandbox, SandboxCloud } from '../../sandbox';
import { bootServer, http, login, startTestSandbox, waitFor } from './sandbox-test-kit';

let sandbox: Sandbox;
let cloud: SandboxCloud;
let token: string;
let net: string;

beforeAll(async () => {
  sandbox = await startTestSandbox([
    { name: 'nt', addressPools: { fixed: { cidr: '127.0.50.0/24', start: '127.0.50.20', end: '127.0.50.30' }, floating: { cidr: '127.0.51.0/24' } } },
  ]);
  cloud = sandbox.cloud('nt');
  token = await login(cloud);
  net = `${cloud.urls.network}/v2.0`;
});
afterAll(() => sandbox.stop());

test('discovery and the default networks: private (shared) and public (router:external), with subnets from the pools', async () => {
  expect((await http('GET', `${cloud.urls.network}/`)).json().versions[0]).toMatchObject({ id: 'v2.0', status: 'CURRENT' });
  const networks = (await http('GET', `${net}/networks`, { token })).json().networks;
  const byName = Object.fromEntries(networks.map((n: { name: string }) => [n.name, n]));
  expect(byName.private).toMatchObject({ 'router:external': false, shared: true, status: 'ACTIVE' });
  expect(byName.public).toMatchObject({ 'router:external': true, status: 'ACTIVE' });
  const external = (await http('GET', `${net}/networks?router:external=true`, { token })).json().networks;
  expect(external.map((n: { name: string }) => n.name)).toEqual(['public']);
  const subnet = (await http('GET', `${net}/subnets/${byName.private.subnets[0]}`, { token })).json().subnet;
  expect(subnet).toMatchObject({ cidr: '127.0.50.0/24', gateway_ip: '127.0.50.1', allocation_pools: [{ start: '127.0.50.20', end: '127.0.50.30' }], ip_version: 4 });
  const routers = (await http('GET', `${net}/routers`, { token })).json().routers;
  expect(routers[0].external_gateway_info.network_id).toBe(byName.public.id);
});

test('floating IP: ports?device_id, create with port_id (201), ACTIVE and shown in the server addresses after the latency', async () => {
  const serverId = await bootServer(cloud, token, 'fip-target');
  const ports = (await http('GET', `${net}/ports?device_id=${serverId}`, { token })).json().ports;
  expect(ports).toHaveLength(1);
  expect(ports[0]).toMatchObject({ device_owner: 'compute:nova', status: 'ACTIVE', network_id: cloud.info().networks.private.id });
  const fixed = ports[0].fixed_ips[0].ip_address;
  expect(fixed).toMatch(/^127\.0\.50\.(2\d|30)$/);

  const created = await http('POST', `${net}/floatingips`, {
    token,
    json: { floatingip: { floating_network_id: cloud.info().networks.public.id, port_id: ports[0].id, description: 'clone-job-7' } },
  });
  expect(created.status).toBe(201);
  const fip = created.json().floatingip;
  expect(fip).toMatchObject({ port_id: ports[0].id, fixed_ip_address: fixed, description: 'clone-job-7', floating_network_id: cloud.info().networks.public.id });
  expect(fip.floating_ip_address).toMatch(/^127\.0\.51\.\d+$/);
  expect(fip.port_details).toMatchObject({ device_id: serverId });

  const addresses = await waitFor('floating IP in server addresses', async () => {
    const server = (await http('GET', `${cloud.urls.compute}/servers/${serverId}`, { token })).json().server;
    const entries = server.addresses.private as Array<{ addr: string; 'OS-EXT-IPS:type': string }>;
    return entries.some((e) => e['OS-EXT-IPS:type'] === 'floating') ? entries : undefined;
  });
  expect(addresses).toEqual([
    expect.objectContaining({ addr: fixed, 'OS-EXT-IPS:type': 'fixed' }),
    expect.objectContaining({ addr: fip.floating_ip_address, 'OS-EXT-IPS:type': 'floating' }),
  ]);
  expect((await http('GET', `${net}/floatingips/${fip.id}`, { token })).json().floatingip.status).toBe('ACTIVE');

  const byPort = (await http('GET', `${net}/floatingips?port_id=${ports[0].id}`, { token })).json().floatingips;
  expect(byPort.map((f: { id: string }) => f.id)).toEqual([fip.id]);
  const byAddress = (await http('GET', `${net}/floatingips?floating_ip_address=${fip.floating_ip_address}`, { token })).json().floatingips;
  expect(byAddress).toHaveLength(1);

  // A second floating IP on the same fixed IP: 409.
  const dup = await http('POST', `${net}/floatingips`, { token, json: { floatingip: { floating_network_id: cloud.info().networks.public.id, port_id: ports[0].id } } });
  expect(dup.status).toBe(409);
  expect(dup.json().NeutronError.type).toBe('FloatingIPPortAlreadyAssociated');

  // Disassociate, then re-associate by update.
  const off = await http('PUT', `${net}/floatingips/${fip.id}`, { token, json: { floatingip: { port_id: null } } });
  expect(off.json().floatingip).toMatchObject({ port_id: null, fixed_ip_address: null, status: 'DOWN' });
  const server = (await http('GET', `${cloud.urls.compute}/servers/${serverId}`, { token })).json().server;
  expect(server.addresses.private).toHaveLength(1);
  const on = await http('PUT', `${net}/floatingips/${fip.id}`, { token, json: { floatingip: { port_id: ports[0].id } } });
  expect(on.status).toBe(200);
  expect(on.json().floatingip.port_id).toBe(ports[0].id);

  expect((await http('DELETE', `${net}/floatingips/${fip.id}`, { token })).status).toBe(204);
  expect((await http('GET', `${net}/floatingips/${fip.id}`, { token })).status).toBe(404);
});

test('unassociated floating IP, a specific address, and quota', async () => {
  const pub = cloud.info().networks.public.id;
  const plain = await http('POST', `${net}/floatingips`, { token, json: { floatingip: { floating_network_id: pub } } });
  expect(plain.json().floatingip).toMatchObject({ port_id: null, status: 'DOWN' });
  const specific = await http('POST', `${net}/floatingips`, { token, json: { floatingip: { floating_network_id: pub, floating_ip_address: '127.0.51.200' } } });
  expect(specific.json().floatingip.floating_ip_address).toBe('127.0.51.200');
  const taken = await http('POST', `${net}/floatingips`, { token, json: { floatingip: { floating_network_id: pub, floating_ip_address: '127.0.51.200' } } });
  expect(taken.status).toBe(409);

  const used = (await http('GET', `${net}/floatingips`, { token })).json().floatingips.length;
  await cloud.control.setQuotas({ floatingIps: used });
  try {
    const over = await http('POST', `${net}/floatingips`, { token, json: { floatingip: { floating_network_id: pub } } });
    expect(over.status).toBe(409);
    expect(over.json()).toEqual({ NeutronError: { type: 'OverQuota', message: "Quota exceeded for resources: ['floatingip'].", detail: '' } });
  } finally {
    await cloud.control.setQuotas({ floatingIps: 50 });
  }
});

test('Neutron errors: NetworkNotFound, not an external network', async () => {
  const missing = await http('GET', `${net}/networks/00000000-0000-0000-0000-000000000000`, { token });
  expect(missing.status).toBe(404);
  expect(missing.json().NeutronError).toMatchObject({ type: 'NetworkNotFound', detail: '' });
  const internal = await http('POST', `${net}/floatingips`, { token, json: { floatingip: { floating_network_id: cloud.info().networks.private.id } } });
  expect(internal.status).toBe(400);
  expect(internal.json().NeutronError.type).toBe('BadRequest');
});

test('quotas/{project} with limits, and usage with /details', async () => {
  const project = (await http('GET', `${cloud.authUrl}/auth/tokens`, { token, headers: { 'x-subject-token': token } })).json().token.project.id;
  const quota = (await http('GET', `${net}/quotas/${project}`, { token })).json().quota;
  expect(quota).toMatchObject({ floatingip: 50, network: 100, port: 500, router: 10 });
  const details = (await http('GET', `${net}/quotas/${project}/details`, { token })).json().quota;
  expect(details.floatingip).toEqual({ limit: 50, used: (await http('GET', `${net}/floatingips`, { token })).json().floatingips.length, reserved: 0 });
});

test('fields projection and the legacy .json suffix', async () => {
  const res = await http('GET', `${net}/networks.json?fields=id&fields=name`, { token });
  expect(res.status).toBe(200);
  expect(Object.keys(res.json().networks[0]).sort()).toEqual(['id', 'name']);
});

test('the fixed pool is bounded: a boot with no address left goes to ERROR, as on a real compute host', async () => {
  await cloud.control.setQuotas({ instances: 50, cores: 50 });
  // The pool holds 11 addresses (.20-.30); earlier tests used some.
  const image = (await http('GET', `${cloud.urls.image}/v2/images?name=cirros-sandbox`, { token })).json().images[0].id;
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await http('POST', `${cloud.urls.compute}/servers`, {
      token,
      headers: { 'openstack-api-version': 'compute 2.79' },
      json: { server: { name: `fill-${i}`, imageRef: image, flavorRef: '1', networks: 'auto' } },
    });
    expect(res.status).toBe(202);
    ids.push(res.json().server.id);
  }
  const last = await waitFor('last server ERROR', async () => {
    const server = (await http('GET', `${cloud.urls.compute}/servers/${ids[11]}`, { token })).json().server;
    return server.status === 'ERROR' ? server : undefined;
  });
  expect(last.fault).toMatchObject({ code: 500, message: expect.stringContaining('Failed to allocate the network(s)') });
  expect(last.addresses).toEqual({});
});
