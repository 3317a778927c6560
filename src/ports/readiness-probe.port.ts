/** Whether a service on a VM answers yet: a TCP port that accepts, or a SIP UDP port that replies to OPTIONS. */
export interface ReadinessProbe {
  /** True when `host:port` accepts a TCP connection within `timeoutMs`. */
  tcp(host: string, port: number, timeoutMs: number): Promise<boolean>;
  /** True when a SIP OPTIONS datagram to `host:port` gets any SIP answer within `timeoutMs`. */
  sipUdp(host: string, port: number, timeoutMs: number): Promise<boolean>;
}
