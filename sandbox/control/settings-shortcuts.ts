/**
 * The SandboxControl setters that are shorthands for one settings patch, shared by the
 * in-process and the HTTP implementations so the two cannot drift apart.
 */
import type { CloudSettings } from '../config/cloud-config';
import type { AddressPools, Bandwidth, CatalogOverridesPatch, Latency, Quotas, SettingsPatch } from '../config/cloud-options.schema';

export abstract class SettingsShortcuts {
  abstract updateSettings(patch: SettingsPatch): Promise<CloudSettings>;

  setLatency(latency: Partial<Latency>): Promise<CloudSettings> {
    return this.updateSettings({ latency });
  }

  setBandwidth(bandwidth: Partial<Bandwidth>): Promise<CloudSettings> {
    return this.updateSettings({ bandwidth });
  }

  setQuotas(quotas: Partial<Quotas>): Promise<CloudSettings> {
    return this.updateSettings({ quotas });
  }

  setTokenLifetime(seconds: number): Promise<CloudSettings> {
    return this.updateSettings({ tokenLifetimeSeconds: seconds });
  }

  setAddressPools(pools: Partial<AddressPools>): Promise<CloudSettings> {
    return this.updateSettings({ addressPools: pools });
  }

  setCatalogOverrides(overrides: CatalogOverridesPatch): Promise<CloudSettings> {
    return this.updateSettings({ catalogOverrides: overrides });
  }
}
