/**
 * The broker's only way out to cloud endpoints: the guarded transport of src/adapters/net (the
 * endpoint policy checked on the address actually dialled), naming "cloud endpoints" in its
 * refusals. Kept under this name because the OpenStack adapters and the broker's wiring use it.
 */
import { GuardedTransport, type GuardedTransportOptions } from '../net/guarded-transport';

export { EndpointRefusedError, resolveEndpoint } from '../net/guarded-transport';

export type CloudTransportOptions = Omit<GuardedTransportOptions, 'subject'>;

export class CloudTransport extends GuardedTransport {
  constructor(options: CloudTransportOptions) {
    super({ ...options, subject: 'cloud endpoints' });
  }
}
