/** Hands out loopback addresses from a configured range, lowest free first. */
import { intToIp, ipToInt, parseCidr } from '../config/address';
import type { AddressPoolOptions } from '../config/cloud-options.schema';

export class AddressPool {
  readonly cidr: string;
  readonly gateway: string;
  readonly start: string;
  readonly end: string;
  private readonly first: number;
  private readonly last: number;

  constructor(
    options: AddressPoolOptions,
    /** Addresses in use anywhere in the cloud; shared so a resized pool never double-allocates. */
    private readonly used: Set<string>,
  ) {
    const cidr = parseCidr(options.cidr);
    this.cidr = `${intToIp(cidr.network)}/${cidr.prefix}`;
    this.gateway = intToIp(cidr.network + 1);
    this.first = options.start ? ipToInt(options.start) : cidr.network + Math.min(10, cidr.size - 2);
    this.last = options.end ? ipToInt(options.end) : cidr.network + cidr.size - 2;
    this.start = intToIp(this.first);
    this.end = intToIp(this.last);
  }

  /** Returns a free address, or undefined when the pool is exhausted. */
  allocate(wanted?: string): string | undefined {
    if (wanted !== undefined) {
      const n = ipToInt(wanted);
      if (n < this.first || n > this.last || this.used.has(wanted)) return undefined;
      this.used.add(wanted);
      return wanted;
    }
    for (let n = this.first; n <= this.last; n++) {
      const ip = intToIp(n);
      if (!this.used.has(ip)) {
        this.used.add(ip);
        return ip;
      }
    }
    return undefined;
  }

  release(ip: string): void {
    this.used.delete(ip);
  }
}
