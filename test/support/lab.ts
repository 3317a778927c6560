/**
 * The endpoint settings of a local lab: the sandbox and the test clouds listen on plain HTTP on
 * 127.0.0.1, which the broker's production default refuses. Every test broker and every test
 * OpenStack client passes these explicitly, so the default stays strict.
 */
import { CloudTransport, type CloudTransportOptions } from '../../src/adapters/openstack/cloud-transport';
import { parseNetworks } from '../../src/domain/endpoint-policy';

/** The broker's environment for a lab (README: "Configuration"). */
export const LAB_CLOUD_ENV = { CLOUD_ALLOW_INSECURE_HTTP: 'true', CLOUD_ENDPOINT_ALLOW: '127.0.0.0/8' } as const;

/** The same, for test code that builds its own OpenStackCloudApiFactory or CloudTransport. */
export const LAB_ENDPOINTS: CloudTransportOptions = { policy: { allowInsecureHttp: true, allow: parseNetworks('127.0.0.0/8'), deny: [] } };

export function labTransport(): CloudTransport {
  return new CloudTransport(LAB_ENDPOINTS);
}
