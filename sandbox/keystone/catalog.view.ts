/**
 * The service catalog: every service with public, internal and admin endpoints in the cloud's
 * region, at the cloud's own URLs unless the catalogOverrides setting names another.
 */
import { createHash } from 'node:crypto';
import type { CloudContext } from '../cloud/cloud.context';

const SERVICES = [
  { type: 'identity', name: 'keystone', url: (c: CloudContext) => c.urls.identity },
  { type: 'compute', name: 'nova', url: (c: CloudContext) => c.urls.compute },
  { type: 'image', name: 'glance', url: (c: CloudContext) => c.urls.image },
  { type: 'network', name: 'neutron', url: (c: CloudContext) => c.urls.network },
] as const;

const INTERFACES = ['public', 'internal', 'admin'] as const;

function stableId(...parts: string[]): string {
  return createHash('md5').update(parts.join('/')).digest('hex');
}

export function catalogView(cloud: CloudContext): unknown[] {
  const { name, region } = cloud.config;
  return SERVICES.map((service) => ({
    id: stableId(name, service.type),
    type: service.type,
    name: service.name,
    endpoints: INTERFACES.map((iface) => ({
      id: stableId(name, service.type, iface),
      interface: iface,
      region_id: region,
      region,
      url: cloud.settings.catalogOverrides[service.type] ?? service.url(cloud),
    })),
  }));
}
