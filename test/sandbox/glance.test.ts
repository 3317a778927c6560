/** Glance v2 over HTTP: image CRUD, schema rules, streaming data with checksums, Range, JSON patch. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pseudoRandomBlocks, type Sandbox, type SandboxCloud } from '../../sandbox';
import { http, login, startTestSandbox } from './sandbox-test-kit';

let sandbox: Sandbox;
let cloud: SandboxCloud;
let token: string;
let images: string;

beforeAll(async () => {
  sandbox = await startTestSandbox([{ name: 'gl' }]);
  cloud = sandbox.cloud('gl');
  token = await login(cloud);
  images = `${cloud.urls.image}/v2/images`;
});
afterAll(() => sandbox.stop());

const MB = 1024 * 1024;
const octets = { 'content-type': 'application/octet-stream' };
const patchType = { 'content-type': 'application/openstack-images-v2.1-json-patch' };

/** Expected md5/sha512 of the deterministic content, computed independently of the sandbox. */
function expectedHashes(seed: string, size: number): { md5: string; sha512: string } {
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  for (const block of pseudoRandomBlocks(seed, size)) {
    md5.update(block);
    sha512.update(block);
  }
  return { md5: md5.digest('hex'), sha512: sha512.digest('hex') };
}

async function createImage(fields: Record<string, unknown> = {}): Promise<string> {
  const res = await http('POST', images, { token, json: { name: 'img', disk_format: 'raw', container_format: 'bare', ...fields } });
  expect(res.status).toBe(201);
  return res.json().id;
}

test('version discovery lists v2 versions', async () => {
  const res = await http('GET', `${cloud.urls.image}/`);
  expect(res.status).toBe(300);
  expect(res.json().versions[0]).toMatchObject({ id: 'v2.16', status: 'CURRENT' });
});

test('create: 201 queued with Location, free-form properties at top level, defaults like Glance', async () => {
  const res = await http('POST', images, { token, json: { name: 'created', disk_format: 'qcow2', container_format: 'bare', hw_disk_bus: 'virtio', tags: ['a'] } });
  expect(res.status).toBe(201);
  const image = res.json();
  expect(res.header('location')).toBe(`${images}/${image.id}`);
  expect(image).toMatchObject({
    name: 'created',
    status: 'queued',
    visibility: 'shared',
    size: null,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    hw_disk_bus: 'virtio',
    tags: ['a'],
    self: `/v2/images/${image.id}`,
    file: `/v2/images/${image.id}/file`,
    schema: '/v2/schemas/image',
  });
});

test.each(['status', 'size', 'checksum', 'stores', 'os_hash_value'])('create with read-only %s: 403', async (attr) => {
  const res = await http('POST', images, { token, json: { name: 'x', [attr]: attr === 'size' ? 1 : 'x' } });
  expect(res.status).toBe(403);
  expect(res.json()).toMatchObject({ code: '403 Forbidden', title: 'Forbidden' });
  expect(res.json().message).toContain(`'${attr}' is read-only`);
});

test('create with a non-string property or bad disk_format: 400', async () => {
  expect((await http('POST', images, { token, json: { name: 'x', custom: 5 } })).status).toBe(400);
  expect((await http('POST', images, { token, json: { name: 'x', disk_format: 'exe' } })).status).toBe(400);
});

test('create with a given id; the same id again: 409', async () => {
  const id = '6f1b8cc6-2b11-4c6a-9f43-1a8e9e3e8d9e';
  expect((await http('POST', images, { token, json: { id, name: 'fixed-id' } })).status).toBe(201);
  expect((await http('POST', images, { token, json: { id, name: 'fixed-id' } })).status).toBe(409);
});

test('streaming upload of a multi-MB image: 204, active, md5 checksum and sha512 os_hash_value match', async () => {
  const size = 24 * MB + 123;
  const id = await createImage({ name: 'streamed' });
  const body = Readable.from(pseudoRandomBlocks('upload-test', size));
  const put = await http('PUT', `${images}/${id}/file`, { token, headers: octets, body });
  expect(put.status).toBe(204);
  const image = (await http('GET', `${images}/${id}`, { token })).json();
  const expected = expectedHashes('upload-test', size);
  expect(image).toMatchObject({ status: 'active', size, checksum: expected.md5, os_hash_algo: 'sha512', os_hash_value: expected.sha512 });

  // A second upload to an active image: 409.
  const again = await http('PUT', `${images}/${id}/file`, { token, headers: octets, body: 'x' });
  expect(again.status).toBe(409);

  // Download: 200, Content-MD5, Content-Length, same bytes.
  const get = await http('GET', `${images}/${id}/file`, { token });
  expect(get.status).toBe(200);
  expect(get.header('content-md5')).toBe(expected.md5);
  expect(get.header('content-length')).toBe(String(size));
  expect(get.header('content-type')).toBe('application/octet-stream');
  expect(createHash('sha512').update(get.body).digest('hex')).toBe(expected.sha512);
});

test('upload needs application/octet-stream: 415 otherwise, image stays queued', async () => {
  const id = await createImage();
  const res = await http('PUT', `${images}/${id}/file`, { token, headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(res.status).toBe(415);
  expect((await http('GET', `${images}/${id}`, { token })).json().status).toBe('queued');
});

test('a zero-byte upload is allowed', async () => {
  const id = await createImage();
  expect((await http('PUT', `${images}/${id}/file`, { token, headers: octets, body: '' })).status).toBe(204);
  expect((await http('GET', `${images}/${id}`, { token })).json()).toMatchObject({ status: 'active', size: 0, checksum: createHash('md5').digest('hex') });
});

test('Range downloads: 206 with Content-Range; 416 when unsatisfiable; 204 for an image without data', async () => {
  const seeded = await cloud.control.seedImage({ name: 'ranged', sizeBytes: 3 * MB, seed: 'range-seed' });
  const all = Buffer.concat([...pseudoRandomBlocks('range-seed', 3 * MB)]);
  const url = `${images}/${seeded.id}/file`;

  const mid = await http('GET', url, { token, headers: { range: 'bytes=1000-1999' } });
  expect(mid.status).toBe(206);
  expect(mid.header('content-range')).toBe(`bytes 1000-1999/${3 * MB}`);
  expect(mid.body.equals(all.subarray(1000, 2000))).toBe(true);

  const tail = await http('GET', url, { token, headers: { range: `bytes=${3 * MB - 10}-` } });
  expect(tail.status).toBe(206);
  expect(tail.body.equals(all.subarray(3 * MB - 10))).toBe(true);

  const suffix = await http('GET', url, { token, headers: { range: 'bytes=-5' } });
  expect(suffix.body.equals(all.subarray(3 * MB - 5))).toBe(true);

  const beyond = await http('GET', url, { token, headers: { range: `bytes=${3 * MB}-` } });
  expect(beyond.status).toBe(416);
  expect(beyond.header('content-range')).toBe(`bytes */${3 * MB}`);

  const empty = await http('GET', `${images}/${await createImage()}/file`, { token });
  expect(empty.status).toBe(204);
});

test('seeded images have the deterministic content and correct hashes', async () => {
  const seeded = await cloud.control.seedImage({ name: 'gen', sizeBytes: 5 * MB + 7, seed: 'gen-seed', properties: { os_distro: 'debian' } });
  const expected = expectedHashes('gen-seed', 5 * MB + 7);
  expect(seeded).toMatchObject({ status: 'active', checksum: expected.md5, osHashValue: expected.sha512 });
  const shown = (await http('GET', `${images}/${seeded.id}`, { token })).json();
  expect(shown).toMatchObject({ os_distro: 'debian', visibility: 'public', os_hash_value: expected.sha512 });
});

test('list filters: name, status, free-form property, tag, and marker paging', async () => {
  const a = await createImage({ name: 'filter-me', flavour: 'vanilla', tags: ['blue'] });
  await createImage({ name: 'filter-me', flavour: 'chocolate' });
  const byName = (await http('GET', `${images}?name=filter-me`, { token })).json().images;
  expect(byName).toHaveLength(2);
  const byProp = (await http('GET', `${images}?name=filter-me&flavour=vanilla`, { token })).json().images;
  expect(byProp.map((i: { id: string }) => i.id)).toEqual([a]);
  const byTag = (await http('GET', `${images}?tag=blue`, { token })).json().images;
  expect(byTag.map((i: { id: string }) => i.id)).toEqual([a]);
  const active = (await http('GET', `${images}?status=active`, { token })).json().images;
  expect(active.every((i: { status: string }) => i.status === 'active')).toBe(true);
  const inFilter = (await http('GET', `${images}?name=in:filter-me,nothing`, { token })).json().images;
  expect(inFilter).toHaveLength(2);

  const first = (await http('GET', `${images}?limit=1`, { token })).json();
  expect(first.images).toHaveLength(1);
  expect(first.next).toMatch(/^\/v2\/images\?marker=/);
  const second = (await http('GET', `${cloud.urls.image}${first.next}`, { token })).json();
  expect(second.images[0].id).not.toBe(first.images[0].id);
});

test('PATCH with json-patch: add, replace, remove properties; 415 for plain JSON; 403 for read-only; 409 for missing', async () => {
  const id = await createImage({ name: 'patchable' });
  const url = `${images}/${id}`;
  const ok = await http('PATCH', url, {
    token,
    headers: patchType,
    body: JSON.stringify([
      { op: 'add', path: '/owner_tag', value: 'job-42' },
      { op: 'replace', path: '/name', value: 'patched' },
      { op: 'add', path: '/min_disk', value: 2 },
    ]),
  });
  expect(ok.status).toBe(200);
  expect(ok.json()).toMatchObject({ name: 'patched', owner_tag: 'job-42', min_disk: 2 });

  const removed = await http('PATCH', url, { token, headers: patchType, body: JSON.stringify([{ op: 'remove', path: '/owner_tag' }]) });
  expect(removed.json().owner_tag).toBeUndefined();

  expect((await http('PATCH', url, { token, json: [{ op: 'add', path: '/x', value: 'y' }] })).status).toBe(415);
  expect((await http('PATCH', url, { token, headers: patchType, body: JSON.stringify([{ op: 'replace', path: '/status', value: 'active' }]) })).status).toBe(403);
  expect((await http('PATCH', url, { token, headers: patchType, body: JSON.stringify([{ op: 'remove', path: '/nothing' }]) })).status).toBe(409);
  // All-or-nothing: a failing op leaves the earlier ones unapplied.
  await http('PATCH', url, { token, headers: patchType, body: JSON.stringify([{ op: 'add', path: '/half', value: 'done' }, { op: 'remove', path: '/nothing' }]) });
  expect((await http('GET', url, { token })).json().half).toBeUndefined();
});

test('tags, delete (204 then 404), protected images cannot be deleted', async () => {
  const id = await createImage();
  expect((await http('PUT', `${images}/${id}/tags/clone-job-1`, { token })).status).toBe(204);
  expect((await http('GET', `${images}/${id}`, { token })).json().tags).toEqual(['clone-job-1']);
  expect((await http('DELETE', `${images}/${id}/tags/clone-job-1`, { token })).status).toBe(204);
  expect((await http('DELETE', `${images}/${id}`, { token })).status).toBe(204);
  const gone = await http('GET', `${images}/${id}`, { token });
  expect(gone.status).toBe(404);
  expect(gone.json()).toMatchObject({ code: '404 Not Found', title: 'Not Found' });

  const keep = await createImage({ protected: true });
  expect((await http('DELETE', `${images}/${keep}`, { token })).status).toBe(403);
});

test('errors are HTML like webob unless the client asks for JSON', async () => {
  const res = await http('GET', `${images}/does-not-exist`, { token, headers: { accept: '*/*' } });
  expect(res.status).toBe(404);
  expect(res.header('content-type')).toMatch(/^text\/html/);
  expect(res.body.toString()).toContain('404 Not Found');
});
