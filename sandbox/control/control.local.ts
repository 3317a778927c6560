/** The in-process SandboxControl: acts directly on one cloud's context. */
import { type FaultInfo, type FaultSpec } from '../behaviour/fault-injector';
import type { OperationName } from '../behaviour/operation-names';
import type { CloudContext } from '../cloud/cloud.context';
import type { ImageRecord, ServerRecord } from '../cloud/cloud.state';
import type { CloudSettings } from '../config/cloud-config';
import { seedImageSchema, settingsPatchSchema, type SettingsPatch } from '../config/cloud-options.schema';
import { seedImage } from '../glance/image.catalog';
import { OpenStackError } from '../http/openstack-error';
import { applyPools, createPools } from '../neutron/network.setup';
import { serverAddresses } from '../nova/server.view';
import { SettingsShortcuts } from './settings-shortcuts';
import type { CloudInfo, SandboxControl, SandboxImage, SandboxServer, SeedImageRequest } from './control.types';

export function imageSummary(cloud: CloudContext, i: ImageRecord): SandboxImage {
  return {
    id: i.id,
    name: i.name,
    status: i.status,
    owner: i.owner,
    visibility: i.visibility,
    size: i.size,
    checksum: i.checksum,
    osHashAlgo: i.osHashAlgo,
    osHashValue: i.osHashValue,
    diskFormat: i.diskFormat,
    containerFormat: i.containerFormat,
    properties: { ...i.properties },
    tags: [...i.tags],
    filePath: i.status === 'active' ? cloud.imageFiles.pathOf(i.id) : null,
  };
}

function serverSummary(cloud: CloudContext, s: ServerRecord): SandboxServer {
  const entries = Object.values(serverAddresses(cloud, s)).flat();
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    taskState: s.taskState,
    projectId: s.projectId,
    imageId: s.imageId,
    flavorId: s.flavorId,
    metadata: { ...s.metadata },
    fixedAddresses: entries.filter((e) => e['OS-EXT-IPS:type'] === 'fixed').map((e) => e.addr),
    floatingAddresses: entries.filter((e) => e['OS-EXT-IPS:type'] === 'floating').map((e) => e.addr),
    deleting: s.deleting,
  };
}

export class LocalControl extends SettingsShortcuts implements SandboxControl {
  constructor(
    private readonly cloud: CloudContext,
    private readonly describe: () => CloudInfo,
  ) {
    super();
  }

  async info(): Promise<CloudInfo> {
    return this.describe();
  }

  async settings(): Promise<CloudSettings> {
    return structuredClone(this.cloud.settings);
  }

  async updateSettings(patch: SettingsPatch): Promise<CloudSettings> {
    const parsed = settingsPatchSchema.parse(patch);
    const s = this.cloud.settings;
    if (parsed.addressPools) {
      const pools = createPools({ ...s.addressPools, ...parsed.addressPools }, this.cloud.state);
      this.cloud.pools.fixed = pools.fixed;
      this.cloud.pools.floating = pools.floating;
      applyPools(this.cloud, pools);
      s.addressPools = { ...s.addressPools, ...parsed.addressPools };
    }
    Object.assign(s.latency, parsed.latency);
    Object.assign(s.bandwidth, parsed.bandwidth);
    Object.assign(s.quotas, parsed.quotas);
    if (parsed.tokenLifetimeSeconds !== undefined) s.tokenLifetimeSeconds = parsed.tokenLifetimeSeconds;
    for (const [type, url] of Object.entries(parsed.catalogOverrides ?? {}) as [keyof CloudSettings['catalogOverrides'], string | null | undefined][]) {
      if (url === null) delete s.catalogOverrides[type];
      else if (url !== undefined) s.catalogOverrides[type] = url;
    }
    this.cloud.log.info({ cloud: this.cloud.config.name, patch: parsed }, 'sandbox settings changed');
    return this.settings();
  }

  async injectFault(spec: FaultSpec): Promise<FaultInfo> {
    return this.cloud.faults.inject(spec);
  }

  async listFaults(): Promise<FaultInfo[]> {
    return this.cloud.faults.list();
  }

  async clearFaults(id?: string): Promise<void> {
    this.cloud.faults.clear(id);
  }

  async calls(): Promise<Partial<Record<OperationName, number>>> {
    return this.cloud.calls.snapshot();
  }

  async resetCalls(): Promise<void> {
    this.cloud.calls.reset();
  }

  async seedImage(request: SeedImageRequest): Promise<SandboxImage> {
    const { project: projectName, ...options } = request;
    const parsed = seedImageSchema.parse(options);
    const project = projectName ? this.cloud.identity.findProject({ name: projectName }) : this.cloud.identity.projects[0];
    if (!project) throw new OpenStackError(404, `Project ${projectName ?? ''} could not be found.`);
    return imageSummary(this.cloud, await seedImage(this.cloud, project.id, parsed));
  }

  async listImages(): Promise<SandboxImage[]> {
    return [...this.cloud.state.images.values()].map((i) => imageSummary(this.cloud, i));
  }

  async listServers(): Promise<SandboxServer[]> {
    return [...this.cloud.state.servers.values()].map((s) => serverSummary(this.cloud, s));
  }

  async revokeTokens(): Promise<number> {
    return this.cloud.tokens.revokeAll();
  }
}
