/**
 * Per-request batching of the rows field resolvers load by id (a job's clouds, VMs and standby
 * image, a VM's cloud, a VM type's thresholds, a standby's VM type): the lookups of one kind made
 * while one level of a response resolves become one query, so a page of N jobs (or standby
 * images) costs the same few queries for any N. Each batch goes through the same service rule as
 * the single lookup, for the same caller, so what a caller sees is exactly what it saw one row at
 * a time (invisible rows are null).
 *
 * Nothing is cached beyond a batch: a WebSocket operation's context lives as long as its
 * subscription, and a later mutation in the same request must not read a stale row.
 */
import DataLoader from 'dataloader';
import { CloudEntity, StandbyImageEntity, ThresholdEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { Principal } from '../domain/principal';
import type { Services } from '../services';

interface CallerLoaders {
  vms: DataLoader<string, VmEntity | null>;
  clouds: DataLoader<string, CloudEntity | null>;
  vmTypes: DataLoader<string, VmTypeEntity | null>;
  standbyImages: DataLoader<string, StandbyImageEntity | null>;
}

const BATCH_ONLY = { cache: false } as const;

export class RelatedRowLoaders {
  /** By token id: one request has one caller, but nothing here relies on it. */
  private readonly byCaller = new Map<string, CallerLoaders>();
  private thresholdLoader: DataLoader<string, ThresholdEntity[]> | null = null;

  constructor(private readonly services: Services) {}

  /** The VM if the caller may see it, else null. */
  vm(principal: Principal, id: string): Promise<VmEntity | null> {
    return this.of(principal).vms.load(id);
  }

  /** The cloud if the caller may see it (own or shared, not deregistered), else null. */
  cloud(principal: Principal, id: string): Promise<CloudEntity | null> {
    return this.of(principal).clouds.load(id);
  }

  /** The VM type if it is the caller's, else null. */
  vmType(principal: Principal, id: string): Promise<VmTypeEntity | null> {
    return this.of(principal).vmTypes.load(id);
  }

  /** The standby image if it is the caller's tenant's, else null. */
  standbyImage(principal: Principal, id: string): Promise<StandbyImageEntity | null> {
    return this.of(principal).standbyImages.load(id);
  }

  /** The thresholds of a VM type the caller already holds. */
  thresholds(vmTypeId: string): Promise<ThresholdEntity[]> {
    this.thresholdLoader ??= new DataLoader(async (ids: readonly string[]) => {
      const byType = await this.services.vmTypes.thresholdsOf(ids);
      return ids.map((id) => byType.get(id) ?? []);
    }, BATCH_ONLY);
    return this.thresholdLoader.load(vmTypeId);
  }

  private of(principal: Principal): CallerLoaders {
    let loaders = this.byCaller.get(principal.tokenId);
    if (!loaders) {
      loaders = {
        vms: new DataLoader(async (ids: readonly string[]) => {
          const found = await this.services.vms.getMany(principal, ids);
          return ids.map((id) => found.get(id) ?? null);
        }, BATCH_ONLY),
        clouds: new DataLoader(async (ids: readonly string[]) => {
          const found = await this.services.clouds.getMany(principal, ids);
          return ids.map((id) => found.get(id) ?? null);
        }, BATCH_ONLY),
        vmTypes: new DataLoader(async (ids: readonly string[]) => {
          const found = await this.services.vmTypes.getMany(principal, ids);
          return ids.map((id) => found.get(id) ?? null);
        }, BATCH_ONLY),
        standbyImages: new DataLoader(async (ids: readonly string[]) => {
          const found = await this.services.standbyImages.getMany(principal, ids);
          return ids.map((id) => found.get(id) ?? null);
        }, BATCH_ONLY),
      };
      this.byCaller.set(principal.tokenId, loaders);
    }
    return loaders;
  }
}
