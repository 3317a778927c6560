/**
 * Two clouds in one process, each on its own port: independent identity, pools and images, and
 * the broker's clone path done by hand (snapshot in A, stream A's image into B's Glance, boot in B).
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { Sandbox, SandboxCloud } from '../../sandbox';
import { bootServer, http, login, startTestSandbox, waitImageStatus } from './sandbox-test-kit';

let sandbox: Sandbox;
let a: SandboxCloud;
let b: SandboxCloud;

beforeAll(async () => {
  sandbox = await startTestSandbox([{ name: 'cloud-a', region: 'RegionA' }, { name: 'cloud-b', region: 'RegionB', bandwidth: { uploadBytesPerSecond: 64 * 1024 * 1024 } }]);
  a = sandbox.cloud('cloud-a');
  b = sandbox.cloud('cloud-b');
});
afterAll(() => sandbox.stop());

test('each cloud has its own port, region, credentials and address pools', async () => {
  expect(a.port).not.toBe(b.port);
  expect(a.region).toBe('RegionA');
  expect(b.region).toBe('RegionB');
  expect(a.credentials.applicationCredential.applicationCredentialId).not.toBe(b.credentials.applicationCredential.applicationCredentialId);
  const [sa, sb] = await Promise.all([a.control.settings(), b.control.settings()]);
  expect(sa.addressPools.fixed.cidr).not.toBe(sb.addressPools.fixed.cidr);
  expect(sa.addressPools.floating.cidr).not.toBe(sb.addressPools.floating.cidr);
  expect(sb.bandwidth.uploadBytesPerSecond).toBe(64 * 1024 * 1024);
  expect(sa.bandwidth.uploadBytesPerSecond).toBeNull();
});

test("a token from one cloud is not valid in the other", async () => {
  const tokenA = await login(a);
  expect((await http('GET', `${a.urls.compute}/flavors`, { token: tokenA })).status).toBe(200);
  expect((await http('GET', `${b.urls.compute}/flavors`, { token: tokenA })).status).toBe(401);
});

test('clone by hand: snapshot in A, stream A -> B without a temporary file, same sha512, boot in B', async () => {
  const [ta, tb] = await Promise.all([login(a), login(b)]);
  const source = await bootServer(a, ta, 'sip-1');
  const snap = await http('POST', `${a.urls.compute}/servers/${source}/action`, {
    token: ta,
    headers: { 'openstack-api-version': 'compute 2.45' },
    json: { createImage: { name: 'sip-1-snap' } },
  });
  const snapshot = await waitImageStatus(a, ta, snap.json().image_id, 'active');

  const target = await http('POST', `${b.urls.image}/v2/images`, {
    token: tb,
    json: { name: 'clone-of-sip-1', disk_format: snapshot.disk_format, container_format: snapshot.container_format, source_sha512: snapshot.os_hash_value },
  });
  const download = await request(`${a.urls.image}/v2/images/${snapshot.id}/file`, { headers: { 'x-auth-token': ta } });
  expect(download.statusCode).toBe(200);
  const upload = await http('PUT', `${b.urls.image}/v2/images/${target.json().id}/file`, {
    token: tb,
    headers: { 'content-type': 'application/octet-stream' },
    body: download.body,
  });
  expect(upload.status).toBe(204);
  const copied = await waitImageStatus(b, tb, target.json().id, 'active');
  expect(copied.os_hash_value).toBe(snapshot.os_hash_value);
  expect(copied.checksum).toBe(snapshot.checksum);
  expect(copied.size).toBe(snapshot.size);

  const bytes = await http('GET', `${b.urls.image}/v2/images/${copied.id}/file`, { token: tb });
  expect(createHash('sha512').update(bytes.body).digest('hex')).toBe(snapshot.os_hash_value);

  const boot = await http('POST', `${b.urls.compute}/servers`, {
    token: tb,
    headers: { 'openstack-api-version': 'compute 2.79' },
    json: { server: { name: 'sip-1-clone', imageRef: copied.id, flavorRef: '1', networks: [{ uuid: b.info().networks.private.id }] } },
  });
  expect(boot.status).toBe(202);
  expect((await a.control.listServers()).map((s) => s.name)).toEqual(['sip-1']);
  expect((await b.control.listServers()).map((s) => s.name)).toEqual(['sip-1-clone']);
});
