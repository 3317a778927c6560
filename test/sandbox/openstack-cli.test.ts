/**
 * The sandbox against the real `openstack` CLI (Debian's python3-openstackclient): if the
 * official client works, the wire API is right. Skipped only on a developer machine without
 * the CLI; under CI (CI=true) a missing CLI fails the run, since CI installs it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Sandbox, SandboxCloud } from '../../sandbox';
import { startTestSandbox } from './sandbox-test-kit';

const OPENSTACK = '/usr/bin/openstack';
const haveCli = fs.existsSync(OPENSTACK);
const inCi = Boolean(process.env.CI);
if (!haveCli && !inCi) {
  console.warn(`SKIPPED openstack-cli tests: ${OPENSTACK} not found. Install it with: apt-get install -y --no-install-recommends python3-openstackclient`);
}
const suite = haveCli || inCi ? describe : describe.skip;
const run = promisify(execFile);

suite('openstack CLI against the sandbox', () => {
  let sandbox: Sandbox;
  let cloud: SandboxCloud;
  let work: string;

  /** Runs `openstack ARGS -f json` with Debian's python and only the cloud's OS_* settings. */
  async function openstack(args: string[], auth: 'password' | 'application_credential' = 'password'): Promise<unknown> {
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: work, LANG: 'C.UTF-8', ...cloud.cliEnv(auth) };
    const { stdout } = await run(OPENSTACK, [...args, '-f', 'json'], { env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim() ? JSON.parse(stdout) : undefined;
  }
  async function openstackNoFormat(args: string[]): Promise<void> {
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: work, LANG: 'C.UTF-8', ...cloud.cliEnv() };
    await run(OPENSTACK, args, { env, timeout: 120_000 });
  }

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'openstack-cli-'));
    sandbox = await startTestSandbox([{ name: 'cli' }]);
    cloud = sandbox.cloud('cli');
  });
  afterAll(async () => {
    await sandbox?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('token issue with password and with an application credential', async () => {
    const token = (await openstack(['token', 'issue'])) as Record<string, string>;
    expect(token.id).toMatch(/^gAAAAA/);
    expect(token.project_id).toMatch(/^[0-9a-f]{32}$/);
    const viaAppCred = (await openstack(['token', 'issue'], 'application_credential')) as Record<string, string>;
    expect(viaAppCred.project_id).toBe(token.project_id);
  }, 120_000);

  test('identity, quota and limit reads: project list, endpoint list, quota show, limits show', async () => {
    const projects = (await openstack(['project', 'list'])) as Array<Record<string, string>>;
    expect(projects.map((p) => p.Name)).toEqual(['admin']);
    const endpoints = (await openstack(['endpoint', 'list', '--interface', 'public'])) as Array<Record<string, string>>;
    expect(endpoints.map((e) => e['Service Type']).sort()).toEqual(['compute', 'identity', 'image', 'network']);
    const quota = (await openstack(['quota', 'show'])) as Record<string, unknown>;
    expect(quota).toMatchObject({ instances: 10, cores: 20, 'floating-ips': 50 });
    const limits = (await openstack(['limits', 'show', '--absolute'])) as Array<Record<string, unknown>>;
    expect(limits).toEqual(expect.arrayContaining([{ Name: 'maxTotalInstances', Value: 10 }]));
  }, 120_000);

  test('image create --file, image show, image save round-trip with matching checksums', async () => {
    const file = path.join(work, 'upload.img');
    const content = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    fs.writeFileSync(file, content);
    const created = (await openstack(['image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', '--property', 'purpose=cli-test', 'cli-image'])) as Record<string, unknown>;
    expect(created.name).toBe('cli-image');
    const shown = (await openstack(['image', 'show', 'cli-image'])) as Record<string, unknown>;
    expect(shown).toMatchObject({ status: 'active', size: content.length, checksum: createHash('md5').update(content).digest('hex') });
    const saved = path.join(work, 'saved.img');
    await openstackNoFormat(['image', 'save', '--file', saved, 'cli-image']);
    expect(fs.readFileSync(saved).equals(content)).toBe(true);
  }, 120_000);

  test('server create --wait, list, show, floating ip create / list, server delete --wait', async () => {
    const server = (await openstack(['server', 'create', '--image', 'cirros-sandbox', '--flavor', 'm1.tiny', '--network', 'private', '--wait', 'cli-vm'])) as Record<string, unknown>;
    expect(server.status).toBe('ACTIVE');
    const list = (await openstack(['server', 'list'])) as Array<Record<string, unknown>>;
    expect(list.map((s) => s.Name)).toEqual(['cli-vm']);
    expect(list[0]!.Status).toBe('ACTIVE');
    const shown = (await openstack(['server', 'show', 'cli-vm'])) as Record<string, unknown>;
    expect(shown).toMatchObject({ name: 'cli-vm', status: 'ACTIVE', flavor: expect.stringContaining('m1.tiny') });

    const fip = (await openstack(['floating', 'ip', 'create', 'public'])) as Record<string, string>;
    expect(fip.floating_ip_address).toMatch(/^127\./);
    await openstackNoFormat(['server', 'add', 'floating', 'ip', 'cli-vm', fip.floating_ip_address!]);
    const fips = (await openstack(['floating', 'ip', 'list'])) as Array<Record<string, unknown>>;
    expect(fips).toEqual([expect.objectContaining({ 'Floating IP Address': fip.floating_ip_address, Port: expect.any(String) })]);

    const snapshot = (await openstack(['server', 'image', 'create', '--name', 'cli-snap', '--wait', 'cli-vm'])) as Record<string, unknown>;
    expect(snapshot).toMatchObject({ name: 'cli-snap', status: 'active' });

    await openstackNoFormat(['server', 'delete', '--wait', 'cli-vm']);
    expect(await openstack(['server', 'list'])).toEqual([]);
  }, 180_000);
});
