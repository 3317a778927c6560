/**
 * The client address that per-address limits (anonymous rate limit, WebSocket connections) count
 * against. Behind a load balancer the socket's peer is the balancer: TRUSTED_PROXIES names those
 * networks, and for a peer inside them the client is the right-most X-Forwarded-For entry that is
 * not itself a trusted proxy (entries left of it are whatever the client chose to send). IPv6
 * clients count per /64, since one host commonly holds a whole /64.
 */
import ipaddr from 'ipaddr.js';

export type TrustedProxies = readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];

/** `10.0.0.0/8,2001:db8::/32,192.0.2.7` (single addresses allowed); config.ts validates first. */
export function parseTrustedProxies(list: readonly string[]): TrustedProxies {
  return list.map((entry) => {
    if (ipaddr.isValidCIDR(entry)) return ipaddr.parseCIDR(entry);
    const address = ipaddr.process(entry);
    return [address, address.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number];
  });
}

function parsed(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    // process(): an IPv4-mapped IPv6 peer (::ffff:192.0.2.1) is the IPv4 client it maps.
    return ipaddr.process(address.trim());
  } catch {
    return null;
  }
}

function isTrusted(address: ipaddr.IPv4 | ipaddr.IPv6, trusted: TrustedProxies): boolean {
  return trusted.some(([net, bits]) => net.kind() === address.kind() && address.match(net, bits));
}

function key(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  if (address.kind() === 'ipv4') return address.toString();
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/64`);
  return `${network.toString()}/64`;
}

/** The key per-address limits use for a request from `peer` carrying `forwardedFor`. */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: TrustedProxies): string {
  const direct = parsed(peer ?? '');
  if (!direct) return peer ?? 'unknown';
  if (trusted.length === 0 || !isTrusted(direct, trusted)) return key(direct);
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '')).split(',').filter((h) => h.trim() !== '');
  let client = direct;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parsed(hops[i]);
    // A malformed entry was written by someone we do not trust: stop at the last good hop.
    if (!hop) break;
    client = hop;
    if (!isTrusted(hop, trusted)) break;
  }
  return key(client);
}
