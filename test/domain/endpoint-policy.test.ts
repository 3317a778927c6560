/** The endpoint policy rule: which addresses and URLs a cloud endpoint may have. */
import { describeRefusal, judgeAddress, judgeEndpointUrl, parseNetwork, parseNetworks, STRICT_ENDPOINT_POLICY } from '../../src/domain/endpoint-policy';

const lab = { allowInsecureHttp: true, allow: parseNetworks('127.0.0.0/8'), deny: [] };

describe('judgeAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses %s by default (%s)', (address, why) => {
    expect(judgeAddress(STRICT_ENDPOINT_POLICY, address)).toMatchObject({ allowed: false, why });
  });

  it.each(['203.0.113.10', '10.1.2.3', '192.168.1.1', '100.64.0.1', '2001:db8::1', 'fd00::1'])('allows the unicast address %s by default', (address) => {
    expect(judgeAddress(STRICT_ENDPOINT_POLICY, address)).toEqual({ allowed: true, address });
  });

  it('normalises IPv4-mapped IPv6 to the IPv4 address the kernel connects to', () => {
    expect(judgeAddress(STRICT_ENDPOINT_POLICY, '::ffff:127.0.0.1')).toEqual({ allowed: false, address: '127.0.0.1', why: 'loopback' });
    expect(judgeAddress(STRICT_ENDPOINT_POLICY, '::ffff:a9fe:a9fe')).toEqual({ allowed: false, address: '169.254.169.254', why: 'link-local' });
    expect(judgeAddress(lab, '::ffff:127.0.0.1')).toEqual({ allowed: true, address: '127.0.0.1' });
  });

  it('CLOUD_ENDPOINT_ALLOW adds networks; CLOUD_ENDPOINT_DENY removes some, and deny wins', () => {
    const policy = { allowInsecureHttp: true, allow: parseNetworks('127.0.0.0/8'), deny: parseNetworks('127.0.0.2/32, 10.0.0.0/8') };
    expect(judgeAddress(policy, '127.0.0.1')).toEqual({ allowed: true, address: '127.0.0.1' });
    expect(judgeAddress(policy, '127.0.0.2')).toEqual({ allowed: false, address: '127.0.0.2', why: 'in CLOUD_ENDPOINT_DENY (127.0.0.2/32)' });
    expect(judgeAddress(policy, '10.9.9.9')).toMatchObject({ allowed: false, why: 'in CLOUD_ENDPOINT_DENY (10.0.0.0/8)' });
    expect(judgeAddress(policy, '::1')).toMatchObject({ allowed: false, why: 'loopback' });
  });

  it('an IPv4-mapped CIDR in the settings means the IPv4 network', () => {
    expect(parseNetwork('::ffff:10.0.0.0/104').range[1]).toBe(8);
    const policy = { allowInsecureHttp: false, allow: [], deny: [parseNetwork('::ffff:10.0.0.0/104')] };
    expect(judgeAddress(policy, '10.3.4.5')).toMatchObject({ allowed: false });
  });

  it('names the rule in a refusal', () => {
    const verdict = judgeAddress(STRICT_ENDPOINT_POLICY, '169.254.169.254');
    if (verdict.allowed) throw new Error('allowed');
    expect(describeRefusal(verdict)).toBe(
      'resolves to 169.254.169.254, which is link-local; cloud endpoints may not be loopback, link-local, unspecified, multicast or broadcast addresses (CLOUD_ENDPOINT_ALLOW adds networks)',
    );
  });

  it('names what it guards: the same rule holds for integration endpoints (Nagios, SSH, the load balancer)', () => {
    const verdict = judgeAddress(STRICT_ENDPOINT_POLICY, '127.0.0.1');
    if (verdict.allowed) throw new Error('allowed');
    expect(describeRefusal(verdict, 'integration endpoints')).toBe(
      'resolves to 127.0.0.1, which is loopback; integration endpoints may not be loopback, link-local, unspecified, multicast or broadcast addresses (CLOUD_ENDPOINT_ALLOW adds networks)',
    );
    expect(judgeEndpointUrl(STRICT_ENDPOINT_POLICY, 'http://nagios.example/cgi-bin/nagios4/statusjson.cgi', 'integration endpoints')).toEqual({
      ok: false,
      why: 'uses http://; integration endpoints must use https:// unless the operator sets CLOUD_ALLOW_INSECURE_HTTP=true',
    });
  });
});

describe('parseNetworks', () => {
  it('reads comma-separated CIDRs and single addresses, and ignores empty entries', () => {
    expect(parseNetworks(' 127.0.0.0/8, ,::1 ').map((n) => [n.text, n.range[0].toString(), n.range[1]])).toEqual([
      ['127.0.0.0/8', '127.0.0.0', 8],
      ['::1', '::1', 128],
    ]);
    expect(parseNetworks('')).toEqual([]);
  });

  it.each(['127.0.0.0/33', 'intranet', '10.0.0.0/8/8', '::1/129'])('refuses %s with a readable message', (text) => {
    expect(() => parseNetworks(text)).toThrow(/is not a CIDR/);
  });
});

describe('judgeEndpointUrl', () => {
  it('allows https, and http only when the operator allows it', () => {
    expect(judgeEndpointUrl(STRICT_ENDPOINT_POLICY, 'https://keystone.example:5000/v3')).toMatchObject({ ok: true });
    expect(judgeEndpointUrl(STRICT_ENDPOINT_POLICY, 'http://keystone.example:5000/v3')).toEqual({ ok: false, why: expect.stringContaining('CLOUD_ALLOW_INSECURE_HTTP=true') });
    expect(judgeEndpointUrl(lab, 'http://keystone.example:5000/v3')).toMatchObject({ ok: true });
  });

  it.each([
    ['ftp://files.example/', 'must use https'],
    ['file:///etc/passwd', 'must use https'],
    ['gopher://127.0.0.1:6379/_INFO', 'must use https'],
    ['http://admin:secret@nova.example/v2.1', 'user info'],
    ['http://nova.example/v2.1\n', 'control characters'],
    ['http://nova.exa\tmple/v2.1', 'control characters'],
    ['/compute/v2.1', 'absolute'],
    [`http://nova.example/${'a'.repeat(600)}`, 'longer than 512'],
  ])('refuses %j (%s)', (url, why) => {
    expect(judgeEndpointUrl(lab, url)).toEqual({ ok: false, why: expect.stringContaining(why) });
  });
});
