/**
 * Every operation the sandbox counts and can inject faults into. Names are stable API for tests:
 * `service.resource.verb`. HTTP operations fail/hang/abort at the request; the two asynchronous
 * ones (`nova.server.build`, `nova.server.snapshot`) fail inside the cloud, as a real compute
 * host would (server ERROR, snapshot image killed).
 */
export const OPERATIONS = [
  'keystone.discovery',
  'keystone.token',
  'keystone.token.validate',
  'keystone.token.revoke',
  'keystone.identity.read',
  'nova.discovery',
  'nova.server.list',
  'nova.server.show',
  'nova.server.create',
  'nova.server.update',
  'nova.server.delete',
  'nova.server.createImage',
  'nova.server.consoleOutput',
  'nova.server.powerAction',
  'nova.server.metadata',
  'nova.flavor.list',
  'nova.flavor.show',
  'nova.limits',
  'nova.availabilityZone.list',
  'nova.quota.show',
  'nova.server.build',
  'nova.server.snapshot',
  'glance.discovery',
  'glance.schema',
  'glance.image.list',
  'glance.image.show',
  'glance.image.create',
  'glance.image.update',
  'glance.image.delete',
  'glance.image.tag',
  'glance.image.upload',
  'glance.image.download',
  'neutron.discovery',
  'neutron.network.list',
  'neutron.network.show',
  'neutron.subnet.list',
  'neutron.subnet.show',
  'neutron.port.list',
  'neutron.port.show',
  'neutron.router.list',
  'neutron.securityGroup.list',
  'neutron.quota.show',
  'neutron.floatingip.create',
  'neutron.floatingip.list',
  'neutron.floatingip.show',
  'neutron.floatingip.update',
  'neutron.floatingip.delete',
] as const;

export type OperationName = (typeof OPERATIONS)[number];

/** Operations that happen inside the cloud rather than in an HTTP request. */
export const ASYNC_OPERATIONS: readonly OperationName[] = ['nova.server.build', 'nova.server.snapshot'];

/** A fault's target: an exact operation name, or a prefix ending in `*` (`nova.*`, `glance.image.*`, `*`). */
export function matchesOperation(pattern: string, operation: OperationName): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return operation.startsWith(pattern.slice(0, -1));
  return pattern === operation;
}

export function isKnownPattern(pattern: string): boolean {
  return OPERATIONS.some((op) => matchesOperation(pattern, op));
}
