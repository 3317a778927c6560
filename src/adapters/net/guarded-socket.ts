/**
 * A TCP connection to a host a tenant named (an SSH server), under the same endpoint policy as
 * HTTP: the name is resolved once, every address judged, and only a checked address is dialled,
 * so neither a hostile name nor a DNS answer that changes in between reaches a refused address.
 */
import net from 'node:net';
import type { EndpointPolicy, EndpointSubject } from '../../domain/endpoint-policy';
import { codeOf, resolveEndpoint, TRY_NEXT } from './guarded-transport';

export interface GuardedConnectOptions {
  policy: EndpointPolicy;
  subject: EndpointSubject;
  /** Bounds the DNS lookup and each address's TCP handshake. */
  timeoutMs: number;
}

function dial(address: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to ${address}:${port} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

/**
 * A connected socket to `host:port`. Throws EndpointRefusedError when the policy refuses an
 * address of the host, and the network's own error (ECONNREFUSED, ETIMEDOUT, ENOTFOUND ...)
 * otherwise; the next address is tried only after failures that say this one is down.
 */
export async function connectGuarded(host: string, port: number, options: GuardedConnectOptions): Promise<net.Socket> {
  const addresses = await resolveEndpoint(options.policy, host, options.timeoutMs, options.subject);
  for (let i = 0; ; i++) {
    try {
      return await dial(addresses[i]!, port, options.timeoutMs);
    } catch (err) {
      if (i + 1 >= addresses.length || !TRY_NEXT.has(codeOf(err) ?? '')) throw err;
    }
  }
}
