/** Fault injection: fail (per-service error shapes), hang, abort mid-stream, async build/snapshot failures. */
import { Readable } from 'node:stream';
import { connectSandboxControl, pseudoRandomBlocks, type Sandbox, type SandboxCloud, type SandboxControl } from '../../sandbox';
import { bootServer, http, login, startTestSandbox, waitFor, waitImageStatus } from './sandbox-test-kit';

let sandbox: Sandbox;
let cloud: SandboxCloud;
let control: SandboxControl;
let token: string;

const passwordBody = {
  auth: {
    identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: 'admin' } } },
    scope: { project: { name: 'admin', domain: { id: 'default' } } },
  },
};

beforeAll(async () => {
  sandbox = await startTestSandbox([{ name: 'ft' }]);
  cloud = sandbox.cloud('ft');
  // Drive faults through the HTTP control API, as a test in another process would.
  control = connectSandboxControl(cloud.controlUrl);
  token = await login(cloud);
});
afterEach(() => control.clearFaults());
afterAll(() => sandbox.stop());

test('fail: the next N calls answer 503 in the service error format, then calls succeed again', async () => {
  await control.injectFault({ operation: 'keystone.token', mode: 'fail', count: 2 });
  const first = await http('POST', `${cloud.authUrl}/auth/tokens`, { json: passwordBody });
  expect(first.status).toBe(503);
  expect(first.json()).toEqual({ error: { code: 503, title: 'Service Unavailable', message: expect.any(String) } });
  expect((await http('POST', `${cloud.authUrl}/auth/tokens`, { json: passwordBody })).status).toBe(503);
  expect((await http('POST', `${cloud.authUrl}/auth/tokens`, { json: passwordBody })).status).toBe(201);
  expect(await control.listFaults()).toEqual([]);
});

test('fail shapes for Nova, Glance and Neutron, and a custom status', async () => {
  await control.injectFault({ operation: 'nova.server.create' });
  const nova = await http('POST', `${cloud.urls.compute}/servers`, { token, json: { server: {} } });
  expect(nova.status).toBe(503);
  expect(nova.json().serviceUnavailable.code).toBe(503);

  await control.injectFault({ operation: 'glance.image.list', status: 500, message: 'boom' });
  const glance = await http('GET', `${cloud.urls.image}/v2/images`, { token });
  expect(glance.status).toBe(500);
  expect(glance.json()).toEqual({ code: '500 Internal Server Error', title: 'Internal Server Error', message: 'boom' });

  await control.injectFault({ operation: 'neutron.floatingip.create' });
  const neutron = await http('POST', `${cloud.urls.network}/v2.0/floatingips`, { token, json: { floatingip: {} } });
  expect(neutron.status).toBe(503);
  expect(neutron.json().NeutronError.type).toBe('HTTPServiceUnavailable');
});

test('prefix patterns and "always": every Nova call fails until cleared', async () => {
  const fault = await control.injectFault({ operation: 'nova.*', count: 'always' });
  expect(fault.remaining).toBe('always');
  expect((await http('GET', `${cloud.urls.compute}/flavors`, { token })).status).toBe(503);
  expect((await http('GET', `${cloud.urls.compute}/servers`, { token })).status).toBe(503);
  expect((await http('GET', `${cloud.urls.image}/v2/images`, { token })).status).toBe(200);
  await control.clearFaults(fault.id);
  expect((await http('GET', `${cloud.urls.compute}/flavors`, { token })).status).toBe(200);
});

test('unknown operation names are rejected by the control API', async () => {
  await expect(control.injectFault({ operation: 'nova.server.explode' })).rejects.toThrow(/400/);
});

test('hang: the call gets no answer until faults are cleared, then proceeds normally', async () => {
  await control.resetCalls();
  await control.injectFault({ operation: 'nova.flavor.list', mode: 'hang' });
  let answered = false;
  const pending = http('GET', `${cloud.urls.compute}/flavors`, { token }).then((res) => {
    answered = true;
    return res;
  });
  await waitFor('the hanging call to arrive', async () => ((await control.calls())['nova.flavor.list'] === 1 ? true : undefined));
  expect(answered).toBe(false);
  await control.clearFaults();
  const res = await pending;
  expect(res.status).toBe(200);
  expect(res.json().flavors.length).toBeGreaterThan(0);
});

test('hang with hangMs: a slow call that eventually succeeds', async () => {
  await control.injectFault({ operation: 'glance.image.show', mode: 'hang', hangMs: 100 });
  const images = (await http('GET', `${cloud.urls.image}/v2/images`, { token })).json().images;
  expect((await http('GET', `${cloud.urls.image}/v2/images/${images[0].id}`, { token })).status).toBe(200);
});

test('abort: an image download is cut after N bytes', async () => {
  const image = await control.seedImage({ name: 'cut-me', sizeBytes: 4 * 1024 * 1024 });
  await control.injectFault({ operation: 'glance.image.download', mode: 'abort', afterBytes: 100_000 });
  await expect(http('GET', `${cloud.urls.image}/v2/images/${image.id}/file`, { token })).rejects.toThrow();
  const full = await http('GET', `${cloud.urls.image}/v2/images/${image.id}/file`, { token });
  expect(full.body.length).toBe(4 * 1024 * 1024);
});

test('abort: an upload cut mid-stream leaves the image queued, and a retry succeeds', async () => {
  const create = await http('POST', `${cloud.urls.image}/v2/images`, { token, json: { name: 'retry-upload', disk_format: 'raw', container_format: 'bare' } });
  const id = create.json().id;
  await control.injectFault({ operation: 'glance.image.upload', mode: 'abort', afterBytes: 1024 * 1024 });
  const headers = { 'content-type': 'application/octet-stream' };
  await expect(http('PUT', `${cloud.urls.image}/v2/images/${id}/file`, { token, headers, body: Readable.from(pseudoRandomBlocks('retry', 8 * 1024 * 1024)) })).rejects.toThrow();
  await waitImageStatus(cloud, token, id, 'queued');
  const retry = await http('PUT', `${cloud.urls.image}/v2/images/${id}/file`, { token, headers, body: Readable.from(pseudoRandomBlocks('retry', 8 * 1024 * 1024)) });
  expect(retry.status).toBe(204);
  expect((await waitImageStatus(cloud, token, id, 'active')).size).toBe(8 * 1024 * 1024);
});

test('abort without a byte count drops the connection at once', async () => {
  await control.injectFault({ operation: 'neutron.network.list', mode: 'abort' });
  await expect(http('GET', `${cloud.urls.network}/v2.0/networks`, { token })).rejects.toThrow();
});

test('nova.server.build: the accepted server ends in ERROR with a fault', async () => {
  await control.injectFault({ operation: 'nova.server.build' });
  const image = (await http('GET', `${cloud.urls.image}/v2/images?name=cirros-sandbox`, { token })).json().images[0].id;
  const res = await http('POST', `${cloud.urls.compute}/servers`, {
    token,
    headers: { 'openstack-api-version': 'compute 2.79' },
    json: { server: { name: 'unlucky', imageRef: image, flavorRef: '1', networks: 'none' } },
  });
  expect(res.status).toBe(202);
  const server = await waitFor('ERROR', async () => {
    const s = (await http('GET', `${cloud.urls.compute}/servers/${res.json().server.id}`, { token })).json().server;
    return s.status === 'ERROR' ? s : undefined;
  });
  expect(server.fault.message).toContain('No valid host was found');
  expect(server['OS-EXT-STS:vm_state']).toBe('error');
});

test('nova.server.snapshot: the snapshot image is killed and the server returns to no task', async () => {
  const id = await bootServer(cloud, token, 'snap-fail');
  await control.injectFault({ operation: 'nova.server.snapshot' });
  const res = await http('POST', `${cloud.urls.compute}/servers/${id}/action`, {
    token,
    headers: { 'openstack-api-version': 'compute 2.45' },
    json: { createImage: { name: 'doomed-snap' } },
  });
  expect(res.status).toBe(202);
  await waitImageStatus(cloud, token, res.json().image_id, 'killed');
  await waitFor('task_state null', async () =>
    (await http('GET', `${cloud.urls.compute}/servers/${id}`, { token })).json().server['OS-EXT-STS:task_state'] === null ? true : undefined,
  );
});

test('call counts record every call, failed ones included', async () => {
  await control.resetCalls();
  await control.injectFault({ operation: 'nova.limits' });
  await http('GET', `${cloud.urls.compute}/limits`, { token });
  await http('GET', `${cloud.urls.compute}/limits`, { token });
  expect((await control.calls())['nova.limits']).toBe(2);
});
