/**
 * The address per-address limits count against: the socket's peer, unless that peer is a
 * trusted proxy, in which case the right-most X-Forwarded-For hop that is not a trusted proxy.
 * A client cannot pick its own address by sending X-Forwarded-For, and IPv6 counts per /64.
 */
import { clientAddress, parseTrustedProxies } from '../../src/api/client-address';

const none = parseTrustedProxies([]);
const balancers = parseTrustedProxies(['10.0.0.0/8', '2001:db8:ffff::/48', '192.0.2.7']);

describe('clientAddress', () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress('198.51.100.4', '203.0.113.9', none)).toBe('198.51.100.4');
    expect(clientAddress('::ffff:198.51.100.4', undefined, none)).toBe('198.51.100.4');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(clientAddress('198.51.100.4', '203.0.113.9', balancers)).toBe('198.51.100.4');
  });

  it('takes the right-most untrusted hop behind trusted proxies, not what the client put first', () => {
    expect(clientAddress('10.1.2.3', '203.0.113.9', balancers)).toBe('203.0.113.9');
    expect(clientAddress('10.1.2.3', 'spoofed-by-client, 203.0.113.9, 192.0.2.7', balancers)).toBe('203.0.113.9');
    expect(clientAddress('10.1.2.3', ['1.1.1.1, 203.0.113.9', '10.9.9.9'], balancers)).toBe('203.0.113.9');
  });

  it('stops at a malformed hop: what lies left of it cannot be trusted, so the last hop that parsed counts', () => {
    expect(clientAddress('10.1.2.3', '203.0.113.9, garbage, 10.9.9.9', balancers)).toBe('10.9.9.9');
    expect(clientAddress('10.1.2.3', 'garbage', balancers)).toBe('10.1.2.3');
  });

  it('counts IPv6 clients per /64', () => {
    expect(clientAddress('2001:db8:1:2:aaaa::1', undefined, none)).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:db8:1:2:bbbb::9', undefined, none)).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:db8:ffff:1::5', '2001:db8:1:3::7', balancers)).toBe('2001:db8:1:3::/64');
  });
});
