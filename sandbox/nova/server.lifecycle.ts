/**
 * What a compute host does after the API accepted a request: build (BUILD -> ACTIVE, or ERROR
 * on an injected `nova.server.build` fault), delete, snapshot (task_state image_snapshot ->
 * image_pending_upload -> image_uploading -> null while the image goes queued -> saving ->
 * active), and power changes. Each runs as a tracked background task.
 */
import type { CloudContext } from '../cloud/cloud.context';
import type { ImageRecord, ServerRecord } from '../cloud/cloud.state';
import { diskFormatMismatch } from '../disk/disk-format.inspector';
import { markActive } from '../glance/image.catalog';
import { releaseServerPorts } from '../neutron/ports';
import { hostnameOf, serverAddresses } from './server.view';

function touch(server: ServerRecord, changes: Partial<ServerRecord>): void {
  Object.assign(server, changes, { updatedAt: new Date() });
}

/** Still the live record, not deleted meanwhile? */
function alive(cloud: CloudContext, server: ServerRecord): boolean {
  return cloud.state.servers.get(server.id) === server && !server.deleting;
}

export function startBuild(cloud: CloudContext, server: ServerRecord): void {
  cloud.tasks.run(`build ${server.id}`, async () => {
    const step = Math.floor(cloud.settings.latency.bootMs / 3);
    await cloud.tasks.delay(step);
    if (!alive(cloud, server)) return;
    touch(server, { taskState: 'networking' });
    await cloud.tasks.delay(step);
    if (!alive(cloud, server)) return;
    touch(server, { taskState: 'spawning' });
    if (server.buildError) {
      failBuild(cloud, server, server.buildError);
      return;
    }
    if (cloud.faults.take('nova.server.build')) {
      failBuild(cloud, server, 'No valid host was found. There are not enough hosts available.');
      return;
    }
    try {
      const imageFile = cloud.imageFiles.pathOf(server.imageId);
      const mismatch = await diskFormatMismatch(imageFile, cloud.state.images.get(server.imageId)?.diskFormat ?? null);
      if (mismatch) throw new Error(`Image ${server.imageId} is unacceptable: ${mismatch}`);
      await cloud.disks.create(server.id, imageFile);
    } catch (err) {
      failBuild(cloud, server, `Build of instance ${server.id} aborted: ${(err as Error).message}`);
      return;
    }
    await cloud.tasks.delay(cloud.settings.latency.bootMs - 2 * step);
    if (!alive(cloud, server)) {
      // Deleted while spawning: the delete may have run before the disk existed.
      if (!cloud.state.servers.has(server.id)) await cloud.disks.remove(server.id);
      return;
    }
    const now = new Date();
    touch(server, { status: 'ACTIVE', vmState: 'active', taskState: null, powerState: 1, launchedAt: now });
    for (const portId of server.portIds) {
      const port = cloud.state.ports.get(portId);
      if (port) Object.assign(port, { status: 'ACTIVE', updatedAt: now });
    }
    server.consoleLog.push(...bootLog(cloud, server));
    cloud.events.emit('server.active', { id: server.id, name: server.name, projectId: server.projectId, addresses: fixedAddresses(cloud, server) });
  });
}

function failBuild(cloud: CloudContext, server: ServerRecord, message: string): void {
  touch(server, { status: 'ERROR', vmState: 'error', taskState: null, fault: { code: 500, message, created: new Date() } });
  cloud.events.emit('server.error', { id: server.id, name: server.name, message });
}

export function startDelete(cloud: CloudContext, server: ServerRecord): void {
  if (server.deleting) return;
  touch(server, { taskState: 'deleting', deleting: true });
  cloud.tasks.run(`delete ${server.id}`, async () => {
    await cloud.tasks.delay(cloud.settings.latency.deleteMs);
    releaseServerPorts(cloud, server.id);
    cloud.state.servers.delete(server.id);
    await cloud.disks.remove(server.id);
    cloud.events.emit('server.deleted', { id: server.id, name: server.name });
  });
}

export function startSnapshot(cloud: CloudContext, server: ServerRecord, image: ImageRecord): void {
  touch(server, { taskState: 'image_snapshot' });
  cloud.tasks.run(`snapshot ${server.id} -> ${image.id}`, async () => {
    const half = Math.floor(cloud.settings.latency.snapshotMs / 2);
    const killImage = (): void => {
      image.status = 'killed';
      image.updatedAt = new Date();
      if (alive(cloud, server)) touch(server, { taskState: null });
      cloud.events.emit('image.killed', { id: image.id, name: image.name });
    };
    await cloud.tasks.delay(half);
    if (!alive(cloud, server)) return killImage();
    touch(server, { taskState: 'image_pending_upload' });
    await cloud.tasks.delay(cloud.settings.latency.snapshotMs - half);
    if (!alive(cloud, server) || !cloud.state.images.has(image.id)) return killImage();
    if (cloud.faults.take('nova.server.snapshot')) return killImage();
    touch(server, { taskState: 'image_uploading' });
    image.status = 'saving';
    image.updatedAt = new Date();
    try {
      const digest = await cloud.imageFiles.receive(image.id, cloud.disks.read(server.id), { signal: cloud.tasks.signal });
      if (!cloud.state.images.has(image.id)) {
        await cloud.imageFiles.remove(image.id);
      } else {
        markActive(cloud, image, digest);
      }
      if (alive(cloud, server)) touch(server, { taskState: null });
    } catch (err) {
      killImage();
      throw err;
    }
  });
}

export type PowerAction = 'os-stop' | 'os-start' | 'reboot';

/** Power changes take half a boot: long enough to be observed, short enough not to matter. */
export function startPowerAction(cloud: CloudContext, server: ServerRecord, action: PowerAction): void {
  const pending = { 'os-stop': 'powering-off', 'os-start': 'powering-on', reboot: 'rebooting' }[action];
  touch(server, { taskState: pending, ...(action === 'reboot' ? { status: 'REBOOT' as const } : {}) });
  cloud.tasks.run(`${action} ${server.id}`, async () => {
    await cloud.tasks.delay(Math.floor(cloud.settings.latency.bootMs / 2));
    if (!alive(cloud, server)) return;
    if (action === 'os-stop') touch(server, { status: 'SHUTOFF', vmState: 'stopped', powerState: 4, taskState: null });
    else {
      touch(server, { status: 'ACTIVE', vmState: 'active', powerState: 1, taskState: null });
      server.consoleLog.push(...bootLog(cloud, server));
    }
  });
}

function fixedAddresses(cloud: CloudContext, server: ServerRecord): string[] {
  return Object.values(serverAddresses(cloud, server)).flatMap((entries) => entries.map((e) => e.addr));
}

/** A short cloud-init style console log; brokers grep consoles for readiness markers. */
function bootLog(cloud: CloudContext, server: ServerRecord): string[] {
  const host = hostnameOf(server.name);
  const ips = fixedAddresses(cloud, server);
  const t = new Date().toISOString();
  return [
    `[    0.000000] Linux version 6.1.0-sandbox (sandbox@${cloud.config.name}) #1 SMP`,
    `[    1.234567] Run /sbin/init as init process`,
    `cloud-init[101]: Cloud-init v. 22.4 running 'init' at ${t}.`,
    ...ips.map((ip, i) => `cloud-init[101]: ci-info: |  eth${i}  | True | ${ip} | 255.255.255.0 | global |`),
    `cloud-init[101]: Cloud-init v. 22.4 finished at ${t}. Datasource DataSourceOpenStack. Up 4.20 seconds`,
    ``,
    `Debian GNU/Linux 12 ${host} ttyS0`,
    ``,
    `${host} login: `,
  ];
}
