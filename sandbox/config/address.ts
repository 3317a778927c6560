/**
 * IPv4 helpers for the sandbox's address pools. Pools are restricted to 127.0.0.0/8 on purpose:
 * this machine only has loopback networking, and a sandbox must never hand out an address that
 * a client might actually try to reach elsewhere.
 */

export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) throw new Error(`not an IPv4 address: ${ip}`);
    value = value * 256 + Number(part);
  }
  return value;
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export interface Cidr {
  network: number;
  prefix: number;
  /** Number of addresses in the block, network and broadcast included. */
  size: number;
}

export function parseCidr(cidr: string): Cidr {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  if (!match) throw new Error(`not a CIDR: ${cidr}`);
  const prefix = Number(match[2]);
  if (prefix < 8 || prefix > 30) throw new Error(`CIDR prefix must be between /8 and /30: ${cidr}`);
  const size = 2 ** (32 - prefix);
  const network = ipToInt(match[1]!) - (ipToInt(match[1]!) % size);
  return { network, prefix, size };
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.');
}

/** A stable fake MAC address in the fa:16:3e OUI that Neutron uses for its ports. */
export function macFor(seed: number): string {
  const bytes = [(seed >>> 16) & 255, (seed >>> 8) & 255, seed & 255];
  return ['fa', '16', '3e', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
