/** Nova v2.1 over HTTP: microversions, boot lifecycle, createImage in both flavours, quotas, errors. */
import { createHash } from 'node:crypto';
import { pseudoRandomBlocks, serverDeltaBytes, type Sandbox, type SandboxCloud } from '../../sandbox';
import { bootServer, http, login, startTestSandbox, waitFor, waitImageStatus, waitServerStatus } from './sandbox-test-kit';

let sandbox: Sandbox;
let cloud: SandboxCloud;
let token: string;
let servers: string;
const v = (version: string) => ({ 'openstack-api-version': `compute ${version}` });

beforeAll(async () => {
  sandbox = await startTestSandbox([{ name: 'nv', quotas: { instances: 100, cores: 200, ramMb: 512000 }, images: [{ name: 'cirros-sandbox', sizeBytes: 2 * 1024 * 1024, seed: 'nova-base', properties: { os_distro: 'cirros' } }] }]);
  cloud = sandbox.cloud('nv');
  token = await login(cloud);
  servers = `${cloud.urls.compute}/servers`;
});
afterAll(() => sandbox.stop());

test('version discovery advertises 2.1 .. max', async () => {
  const doc = await http('GET', `${cloud.urls.compute}/`);
  expect(doc.status).toBe(200);
  expect(doc.json().version).toMatchObject({ id: 'v2.1', min_version: '2.1', version: '2.79', status: 'CURRENT' });
  const root = await http('GET', cloud.urls.compute.replace(/v2\.1$/, ''));
  expect(root.json().versions.map((x: { id: string }) => x.id)).toEqual(['v2.0', 'v2.1']);
});

test('microversion headers: default 2.1, standard and legacy request headers, latest, 406 out of range', async () => {
  const plain = await http('GET', `${cloud.urls.compute}/flavors`, { token });
  expect(plain.header('openstack-api-version')).toBe('compute 2.1');
  expect(plain.header('x-openstack-nova-api-version')).toBe('2.1');
  const std = await http('GET', `${cloud.urls.compute}/flavors`, { token, headers: v('2.61') });
  expect(std.header('openstack-api-version')).toBe('compute 2.61');
  expect(std.json().flavors[0].description).toBeNull();
  const legacy = await http('GET', `${cloud.urls.compute}/flavors`, { token, headers: { 'x-openstack-nova-api-version': '2.45' } });
  expect(legacy.header('x-openstack-nova-api-version')).toBe('2.45');
  const latest = await http('GET', `${cloud.urls.compute}/flavors`, { token, headers: v('latest') });
  expect(latest.header('openstack-api-version')).toBe('compute 2.79');
  const tooNew = await http('GET', `${cloud.urls.compute}/flavors`, { token, headers: v('2.200') });
  expect(tooNew.status).toBe(406);
  expect(tooNew.json().computeFault.message).toContain('maximum is 2.79');
});

test('flavors: list, detail, show; unknown flavor is itemNotFound', async () => {
  const list = (await http('GET', `${cloud.urls.compute}/flavors`, { token })).json().flavors;
  expect(list.map((f: { name: string }) => f.name)).toContain('m1.tiny');
  const detail = (await http('GET', `${cloud.urls.compute}/flavors/detail`, { token })).json().flavors;
  expect(detail.find((f: { id: string }) => f.id === '1')).toMatchObject({ name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 });
  const missing = await http('GET', `${cloud.urls.compute}/flavors/999`, { token });
  expect(missing.status).toBe(404);
  expect(missing.json()).toEqual({ itemNotFound: { code: 404, message: 'Flavor 999 could not be found.' } });
});

test('boot: 202 with Location and adminPass, BUILD then ACTIVE with a fixed loopback address', async () => {
  const image = (await http('GET', `${cloud.urls.image}/v2/images?name=cirros-sandbox`, { token })).json().images[0];
  const res = await http('POST', servers, {
    token,
    headers: v('2.79'),
    json: { server: { name: 'web-1', imageRef: image.id, flavorRef: '1', networks: [{ uuid: cloud.info().networks.private.id }], metadata: { role: 'sip' }, availability_zone: 'nova' } },
  });
  expect(res.status).toBe(202);
  const created = res.json().server;
  expect(res.header('location')).toBe(`${servers}/${created.id}`);
  expect(created).toMatchObject({ 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'default' }] });
  expect(typeof created.adminPass).toBe('string');

  const building = (await http('GET', `${servers}/${created.id}`, { token, headers: v('2.79') })).json().server;
  expect(building.status).toBe('BUILD');
  expect(building['OS-EXT-STS:vm_state']).toBe('building');

  const active = await waitServerStatus(cloud, token, created.id, 'ACTIVE');
  expect(active['OS-EXT-STS:vm_state']).toBe('active');
  expect(active['OS-EXT-STS:power_state']).toBe(1);
  expect(active['OS-EXT-AZ:availability_zone']).toBe('nova');
  expect(active.metadata).toEqual({ role: 'sip' });
  expect(active.image.id).toBe(image.id);
  const [address] = active.addresses.private;
  expect(address).toMatchObject({ version: 4, 'OS-EXT-IPS:type': 'fixed' });
  expect(address.addr).toMatch(/^127\.0\.\d+\.\d+$/);
  expect(address['OS-EXT-IPS-MAC:mac_addr']).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
});

test('flavor in a server: id + links before 2.47, embedded from 2.47', async () => {
  const id = await bootServer(cloud, token, 'flavor-view');
  const old = (await http('GET', `${servers}/${id}`, { token, headers: v('2.46') })).json().server;
  expect(old.flavor).toMatchObject({ id: '1' });
  const now = (await http('GET', `${servers}/${id}`, { token, headers: v('2.47') })).json().server;
  expect(now.flavor).toMatchObject({ original_name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 });
});

test('networks is required from 2.37 ("none", "auto" or a list); before that it defaults to auto', async () => {
  const image = (await http('GET', `${cloud.urls.image}/v2/images?name=cirros-sandbox`, { token })).json().images[0].id;
  const body = (extra: object) => ({ server: { name: 'net-test', imageRef: image, flavorRef: '1', ...extra } });
  const missing = await http('POST', servers, { token, headers: v('2.37'), json: body({}) });
  expect(missing.status).toBe(400);
  expect(missing.json().badRequest.message).toContain("'networks' is a required property");

  const none = await http('POST', servers, { token, headers: v('2.37'), json: body({ networks: 'none' }) });
  expect(none.status).toBe(202);
  const noneServer = await waitServerStatus(cloud, token, none.json().server.id, 'ACTIVE');
  expect(noneServer.addresses).toEqual({});

  const legacy = await http('POST', servers, { token, json: body({}) });
  expect(legacy.status).toBe(202);
  const legacyServer = await waitServerStatus(cloud, token, legacy.json().server.id, 'ACTIVE');
  expect(Object.keys(legacyServer.addresses)).toEqual(['private']);

  const auto = await http('POST', servers, { token, headers: v('2.79'), json: body({ networks: 'auto' }) });
  expect(auto.status).toBe(202);
});

test('create validation: unknown image, unknown flavor, unknown AZ are 400 badRequest', async () => {
  const image = (await http('GET', `${cloud.urls.image}/v2/images?name=cirros-sandbox`, { token })).json().images[0].id;
  const post = (server: object) => http('POST', servers, { token, headers: v('2.79'), json: { server: { name: 'bad', networks: 'none', ...server } } });
  expect((await post({ imageRef: '00000000-0000-0000-0000-000000000000', flavorRef: '1' })).json().badRequest.code).toBe(400);
  expect((await post({ imageRef: image, flavorRef: '999' })).status).toBe(400);
  expect((await post({ imageRef: image, flavorRef: '1', availability_zone: 'mars' })).status).toBe(400);
  // Pinning to a host (2.74, admin): the one compute host exists, others do not.
  expect((await post({ imageRef: image, flavorRef: '1', host: 'elsewhere' })).status).toBe(400);
  expect((await post({ imageRef: image, flavorRef: '1', host: 'sandbox-compute' })).status).toBe(202);
});

test('list and detail with name and status filters; itemNotFound for unknown ids', async () => {
  const id = await bootServer(cloud, token, 'findme-42');
  const byName = (await http('GET', `${servers}?name=findme`, { token })).json().servers;
  expect(byName.map((s: { id: string }) => s.id)).toEqual([id]);
  expect(Object.keys(byName[0]).sort()).toEqual(['id', 'links', 'name']);
  const detail = (await http('GET', `${servers}/detail?name=^findme-42$&status=ACTIVE`, { token })).json().servers;
  expect(detail).toHaveLength(1);
  expect(detail[0].status).toBe('ACTIVE');
  expect((await http('GET', `${servers}/detail?status=SHUTOFF&name=findme`, { token })).json().servers).toHaveLength(0);
  const missing = await http('GET', `${servers}/9b7c3a4e-0000-0000-0000-000000000000`, { token });
  expect(missing.json()).toEqual({ itemNotFound: { code: 404, message: 'Instance 9b7c3a4e-0000-0000-0000-000000000000 could not be found.' } });
});

test('server metadata: set, merge, get one key, delete', async () => {
  const id = await bootServer(cloud, token, 'meta');
  const url = `${servers}/${id}/metadata`;
  expect((await http('PUT', url, { token, json: { metadata: { a: '1' } } })).json()).toEqual({ metadata: { a: '1' } });
  expect((await http('POST', url, { token, json: { metadata: { b: '2' } } })).json()).toEqual({ metadata: { a: '1', b: '2' } });
  expect((await http('GET', `${url}/b`, { token })).json()).toEqual({ meta: { b: '2' } });
  expect((await http('DELETE', `${url}/a`, { token })).status).toBe(204);
  expect((await http('GET', url, { token })).json()).toEqual({ metadata: { b: '2' } });
});

test('os-getConsoleOutput returns the boot log', async () => {
  const id = await bootServer(cloud, token, 'console');
  const res = await http('POST', `${servers}/${id}/action`, { token, json: { 'os-getConsoleOutput': { length: 3 } } });
  expect(res.status).toBe(200);
  expect(res.json().output).toContain('login:');
  expect(res.json().output.split('\n')).toHaveLength(3);
});

/** sha512 of what the server's disk holds: boot image bytes followed by its runtime delta. */
function expectedSnapshotHash(serverId: string): string {
  const hash = createHash('sha512');
  for (const block of pseudoRandomBlocks('nova-base', 2 * 1024 * 1024)) hash.update(block);
  hash.update(serverDeltaBytes(serverId));
  return hash.digest('hex');
}

test('createImage at >= 2.45: {"image_id"}, task_state sequence, snapshot image with the disk bytes', async () => {
  // Long enough that the checks right after the 202 see the first states even on a loaded machine.
  await cloud.control.setLatency({ snapshotMs: 3000 });
  try {
    const id = await bootServer(cloud, token, 'snap-new');
    const res = await http('POST', `${servers}/${id}/action`, { token, headers: v('2.45'), json: { createImage: { name: 'snap-new-img', metadata: { clone_job: 'j1' } } } });
    expect(res.status).toBe(202);
    expect(res.header('location')).toBeUndefined();
    const imageId = res.json().image_id;
    expect(imageId).toMatch(/^[0-9a-f-]{36}$/);

    const during = (await http('GET', `${servers}/${id}`, { token })).json().server;
    expect(during['OS-EXT-STS:task_state']).toBe('image_snapshot');
    expect((await http('GET', `${cloud.urls.image}/v2/images/${imageId}`, { token })).json().status).toBe('queued');
    // A second snapshot while one runs: 409 conflictingRequest.
    const busy = await http('POST', `${servers}/${id}/action`, { token, headers: v('2.45'), json: { createImage: { name: 'again' } } });
    expect(busy.status).toBe(409);
    expect(busy.json().conflictingRequest.message).toContain('task_state image_snapshot');

    const seen = new Set<string>();
    await waitFor('task_state back to null', async () => {
      const state = (await http('GET', `${servers}/${id}`, { token })).json().server['OS-EXT-STS:task_state'];
      if (state) seen.add(state);
      return state === null ? true : undefined;
    });
    expect(seen.has('image_pending_upload')).toBe(true);

    const image = await waitImageStatus(cloud, token, imageId, 'active');
    expect(image).toMatchObject({ name: 'snap-new-img', image_type: 'snapshot', instance_uuid: id, clone_job: 'j1', os_distro: 'cirros', os_hash_algo: 'sha512' });
    expect(image.size).toBe(2 * 1024 * 1024 + serverDeltaBytes(id).length);
    expect(image.os_hash_value).toBe(expectedSnapshotHash(id));
    const data = await http('GET', `${cloud.urls.image}/v2/images/${imageId}/file`, { token });
    expect(createHash('sha512').update(data.body).digest('hex')).toBe(expectedSnapshotHash(id));
  } finally {
    await cloud.control.setLatency({ snapshotMs: 60 });
  }
});

test('createImage before 2.45: empty body, image id only in Location; distinct servers give distinct snapshots', async () => {
  const a = await bootServer(cloud, token, 'snap-old-a');
  const b = await bootServer(cloud, token, 'snap-old-b');
  const ids: string[] = [];
  for (const id of [a, b]) {
    const res = await http('POST', `${servers}/${id}/action`, { token, headers: v('2.44'), json: { createImage: { name: `old-${id}` } } });
    expect(res.status).toBe(202);
    expect(res.body.length).toBe(0);
    const location = res.header('location')!;
    expect(location).toMatch(/\/images\/[0-9a-f-]{36}$/);
    ids.push(location.split('/').pop()!);
  }
  const [ia, ib] = await Promise.all(ids.map((i) => waitImageStatus(cloud, token, i, 'active')));
  expect(ia.os_hash_value).toBe(expectedSnapshotHash(a));
  expect(ia.os_hash_value).not.toBe(ib.os_hash_value);
});

test('limits reflect usage; exceeding the instance quota is a 403 forbidden', async () => {
  const before = (await http('GET', `${cloud.urls.compute}/limits`, { token })).json().limits.absolute;
  await bootServer(cloud, token, 'counted');
  const after = (await http('GET', `${cloud.urls.compute}/limits`, { token })).json().limits.absolute;
  expect(after.totalInstancesUsed).toBe(before.totalInstancesUsed + 1);
  expect(after.totalCoresUsed).toBe(before.totalCoresUsed + 1);
  expect(after.totalRAMUsed).toBe(before.totalRAMUsed + 512);

  await cloud.control.setQuotas({ instances: after.totalInstancesUsed });
  try {
    const limits = (await http('GET', `${cloud.urls.compute}/limits`, { token })).json().limits.absolute;
    expect(limits.maxTotalInstances).toBe(after.totalInstancesUsed);
    const image = (await http('GET', `${cloud.urls.image}/v2/images?name=cirros-sandbox`, { token })).json().images[0].id;
    const res = await http('POST', servers, { token, headers: v('2.79'), json: { server: { name: 'over', imageRef: image, flavorRef: '1', networks: 'none' } } });
    expect(res.status).toBe(403);
    expect(res.json().forbidden.message).toMatch(/^Quota exceeded for instances: Requested 1, but already used \d+ of \d+ instances$/);
  } finally {
    await cloud.control.setQuotas({ instances: 100 });
  }
});

test('os-quota-sets shows limits, and usage with /detail', async () => {
  const project = (await http('GET', `${cloud.authUrl}/auth/tokens`, { token, headers: { 'x-subject-token': token } })).json().token.project.id;
  const plain = (await http('GET', `${cloud.urls.compute}/os-quota-sets/${project}`, { token })).json().quota_set;
  expect(plain).toMatchObject({ id: project, instances: 100, cores: 200, ram: 512000 });
  const detail = (await http('GET', `${cloud.urls.compute}/os-quota-sets/${project}/detail`, { token })).json().quota_set;
  expect(detail.instances).toEqual({ limit: 100, in_use: expect.any(Number), reserved: 0 });
  expect(detail.instances.in_use).toBe((await cloud.control.listServers()).length);
});

test('delete: 204, then the server is gone (404) and its port is released', async () => {
  const id = await bootServer(cloud, token, 'doomed');
  const ports = `${cloud.urls.network}/v2.0/ports?device_id=${id}`;
  expect((await http('GET', ports, { token })).json().ports).toHaveLength(1);
  expect((await http('DELETE', `${servers}/${id}`, { token })).status).toBe(204);
  await waitFor('server gone', async () => ((await http('GET', `${servers}/${id}`, { token })).status === 404 ? true : undefined));
  expect((await cloud.control.listServers()).some((s) => s.id === id)).toBe(false);
  expect((await http('GET', ports, { token })).json().ports).toHaveLength(0);
});

test('availability zones', async () => {
  const res = await http('GET', `${cloud.urls.compute}/os-availability-zone`, { token });
  expect(res.json()).toEqual({ availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }] });
});

test('stop and start move the server through SHUTOFF and back', async () => {
  const id = await bootServer(cloud, token, 'power');
  expect((await http('POST', `${servers}/${id}/action`, { token, json: { 'os-stop': null } })).status).toBe(202);
  await waitServerStatus(cloud, token, id, 'SHUTOFF');
  expect((await http('POST', `${servers}/${id}/action`, { token, json: { 'os-stop': null } })).status).toBe(409);
  expect((await http('POST', `${servers}/${id}/action`, { token, json: { 'os-start': null } })).status).toBe(202);
  await waitServerStatus(cloud, token, id, 'ACTIVE');
  expect((await http('POST', `${servers}/${id}/action`, { token, json: { 'os-fly': null } })).status).toBe(400);
});
