/** The control surface: settings validation and reporting, throttled transfers, seeding, in-process events. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { connectSandboxControl, pseudoRandomBlocks, startSandbox, type Sandbox, type SandboxCloud } from '../../sandbox';
import { bootServer, http, login, startTestSandbox } from './sandbox-test-kit';

let sandbox: Sandbox;
let cloud: SandboxCloud;
let token: string;

beforeAll(async () => {
  sandbox = await startTestSandbox([{ name: 'ctl' }]);
  cloud = sandbox.cloud('ctl');
  token = await login(cloud);
});
afterAll(() => sandbox.stop());

test('info over HTTP carries everything a client needs', async () => {
  const info = await connectSandboxControl(cloud.controlUrl).info();
  expect(info).toMatchObject({
    name: 'ctl',
    region: 'RegionOne',
    authUrl: cloud.authUrl,
    endpoints: { compute: cloud.urls.compute, image: cloud.urls.image, network: cloud.urls.network },
    credentials: { password: { username: 'admin', password: 'admin', projectName: 'admin', userDomainName: 'Default', projectDomainName: 'Default' } },
    maxComputeMicroversion: '2.79',
  });
  expect(info.networks.public.id).toMatch(/^[0-9a-f-]{36}$/);
});

test('settings changes are validated and reported; invalid values are 400 with the field named', async () => {
  const remote = connectSandboxControl(cloud.controlUrl);
  const updated = await remote.updateSettings({ latency: { bootMs: 5 }, bandwidth: { downloadBytesPerSecond: 1_000_000 }, quotas: { cores: 7 } });
  expect(updated.latency.bootMs).toBe(5);
  expect(updated.bandwidth).toEqual({ uploadBytesPerSecond: null, downloadBytesPerSecond: 1_000_000 });
  expect(updated.quotas.cores).toBe(7);
  expect((await cloud.control.settings()).bandwidth.downloadBytesPerSecond).toBe(1_000_000);
  await expect(remote.updateSettings({ latency: { bootMs: -1 } })).rejects.toThrow(/400.*latency\.bootMs/);
  await expect(remote.setAddressPools({ fixed: { cidr: '10.0.0.0/24' } })).rejects.toThrow(/127\.0\.0\.0\/8/);
  await remote.updateSettings({ latency: { bootMs: 90 }, bandwidth: { downloadBytesPerSecond: null }, quotas: { cores: 20 } });
});

test('throttled upload and download deliver exactly the bytes (speed itself is measured by the benchmark)', async () => {
  await cloud.control.setBandwidth({ uploadBytesPerSecond: 16 * 1024 * 1024, downloadBytesPerSecond: 16 * 1024 * 1024 });
  try {
    const size = 3 * 1024 * 1024 + 17;
    const created = await http('POST', `${cloud.urls.image}/v2/images`, { token, json: { name: 'throttled', disk_format: 'raw', container_format: 'bare' } });
    const id = created.json().id;
    const put = await http('PUT', `${cloud.urls.image}/v2/images/${id}/file`, {
      token,
      headers: { 'content-type': 'application/octet-stream' },
      body: Readable.from(pseudoRandomBlocks('throttled', size)),
    });
    expect(put.status).toBe(204);
    const get = await http('GET', `${cloud.urls.image}/v2/images/${id}/file`, { token });
    const expected = createHash('sha512');
    for (const block of pseudoRandomBlocks('throttled', size)) expected.update(block);
    expect(createHash('sha512').update(get.body).digest('hex')).toBe(expected.digest('hex'));
  } finally {
    await cloud.control.setBandwidth({ uploadBytesPerSecond: null, downloadBytesPerSecond: null });
  }
});

test('seed an image from a local file', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'seed-'));
  try {
    const file = path.join(dir, 'disk.raw');
    const content = Buffer.from('not really a disk, but bytes are bytes\n'.repeat(1000));
    await fs.writeFile(file, content);
    const image = await connectSandboxControl(cloud.controlUrl).seedImage({ name: 'from-file', file, diskFormat: 'qcow2' });
    expect(image).toMatchObject({ status: 'active', size: content.length, diskFormat: 'qcow2', checksum: createHash('md5').update(content).digest('hex') });
    const shown = (await http('GET', `${cloud.urls.image}/v2/images/${image.id}`, { token })).json();
    expect(shown.os_hash_value).toBe(createHash('sha512').update(content).digest('hex'));
    await expect(cloud.control.seedImage({ name: 'both', file, sizeBytes: 3 })).rejects.toThrow(/exactly one/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the address pools can move at runtime: new servers and the subnet follow, old addresses stay', async () => {
  const before = await bootServer(cloud, token, 'before-move');
  await cloud.control.setAddressPools({ fixed: { cidr: '127.0.99.0/24', start: '127.0.99.50', end: '127.0.99.60' } });
  try {
    const after = await bootServer(cloud, token, 'after-move');
    const servers = await cloud.control.listServers();
    expect(servers.find((s) => s.id === after)?.fixedAddresses).toEqual(['127.0.99.50']);
    expect(servers.find((s) => s.id === before)?.fixedAddresses[0]).not.toMatch(/^127\.0\.99\./);
    const subnets = (await http('GET', `${cloud.urls.network}/v2.0/subnets?name=private-subnet`, { token })).json().subnets;
    expect(subnets[0]).toMatchObject({ cidr: '127.0.99.0/24', allocation_pools: [{ start: '127.0.99.50', end: '127.0.99.60' }] });
  } finally {
    await cloud.control.setAddressPools({ fixed: { cidr: '127.0.10.0/24' } });
  }
});

test('in-process events announce servers and floating IPs', async () => {
  const active = new Promise<{ addresses: string[] }>((resolve) => cloud.events.once('server.active', resolve));
  const id = await bootServer(cloud, token, 'evented');
  const event = await active;
  expect(event.addresses).toHaveLength(1);
  const servers = await cloud.control.listServers();
  expect(servers.find((s) => s.id === id)?.fixedAddresses).toEqual(event.addresses);
});

test('a fixed port is honoured and a taken port is a clear start error', async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-port-'));
  try {
    await expect(startSandbox({ dataDir, clouds: [{ name: 'clash', port: cloud.port, images: [] }] })).rejects.toThrow(/EADDRINUSE/);
    await expect(startSandbox({ dataDir, clouds: [{ name: 'x' }, { name: 'x' }] })).rejects.toThrow(/used twice/);
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});
