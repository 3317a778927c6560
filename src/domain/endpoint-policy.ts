/**
 * Which endpoints the broker may talk to. Pure: the adapter resolves names and connects; this
 * judges URLs and addresses. A partner controls its Keystone URL and its catalog, a tenant its
 * Nagios, SSH and load-balancer addresses, so every endpoint is hostile input that must not turn
 * the broker against what only the broker can reach (loopback services, cloud metadata on
 * link-local addresses, ...).
 */
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A CIDR from the configuration, kept with its text for messages. */
export interface Network {
  text: string;
  range: [Address, number];
}

export interface EndpointPolicy {
  /** `http://` endpoints too (labs, the sandbox); otherwise https only. */
  allowInsecureHttp: boolean;
  /** Networks allowed although their class is refused by default (CLOUD_ENDPOINT_ALLOW). */
  allow: readonly Network[];
  /** Networks refused whatever else says (CLOUD_ENDPOINT_DENY); deny wins over allow. */
  deny: readonly Network[];
}

/** The production default: https only, and no address class the broker itself lives on. */
export const STRICT_ENDPOINT_POLICY: EndpointPolicy = { allowInsecureHttp: false, allow: [], deny: [] };

/** Catalog URLs are stored and shown; longer ones are not worth keeping (the authUrl column is 512 too). */
export const MAX_ENDPOINT_URL_LENGTH = 512;

/** ipaddr.js range names refused by default, with the words messages use. */
const REFUSED_RANGES: Record<string, string> = {
  loopback: 'loopback',
  linkLocal: 'link-local',
  unspecified: 'unspecified',
  multicast: 'multicast',
  broadcast: 'broadcast',
};

/**
 * What the policy guards, as refusals name it. One rule for every address a tenant or partner
 * supplies: cloud endpoints, and the integrations (Nagios, SSH, the load balancer's database and
 * JSON-RPC) that are just as much hostile input.
 */
export type EndpointSubject = 'cloud endpoints' | 'integration endpoints';

const refusedClasses = (subject: EndpointSubject): string =>
  `${subject} may not be loopback, link-local, unspecified, multicast or broadcast addresses (CLOUD_ENDPOINT_ALLOW adds networks)`;

/** IPv4-mapped IPv6 (::ffff:127.0.0.1) becomes the IPv4 address it is: the kernel connects to that. */
function normalise(address: Address): Address {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (`192.0.2.7` = /32). Throws with a readable message. */
export function parseNetwork(text: string): Network {
  const trimmed = text.trim();
  try {
    if (trimmed.includes('/')) {
      const [address, bits] = ipaddr.parseCIDR(trimmed);
      // ::ffff:10.0.0.0/104 means 10.0.0.0/8: addresses are compared after the same normalisation.
      if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
        return { text: trimmed, range: [(address as ipaddr.IPv6).toIPv4Address(), bits - 96] };
      }
      return { text: trimmed, range: [address, bits] };
    }
    const address = normalise(ipaddr.parse(trimmed));
    return { text: trimmed, range: [address, address.kind() === 'ipv4' ? 32 : 128] };
  } catch {
    throw new Error(`"${trimmed}" is not a CIDR (like 10.0.0.0/8 or fd00::/8) or an IP address`);
  }
}

/** A comma-separated list of CIDRs; empty entries are ignored. */
export function parseNetworks(list: string): Network[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseNetwork);
}

function inNetwork(address: Address, network: Network): boolean {
  const [base, bits] = network.range;
  return address.kind() === base.kind() && address.match(base, bits);
}

export type AddressVerdict =
  | { allowed: true; address: string }
  /** `why` completes "…, which is": `link-local`, `in CLOUD_ENDPOINT_DENY (10.0.0.0/8)`. */
  | { allowed: false; address: string; why: string };

/** Judges one address as the kernel would connect to it (IPv4-mapped IPv6 normalised). */
export function judgeAddress(policy: EndpointPolicy, raw: string): AddressVerdict {
  let parsed: Address;
  try {
    parsed = normalise(ipaddr.parse(raw));
  } catch {
    return { allowed: false, address: raw, why: 'not an IP address' };
  }
  const address = parsed.toString();
  const denied = policy.deny.find((n) => inNetwork(parsed, n));
  if (denied) return { allowed: false, address, why: `in CLOUD_ENDPOINT_DENY (${denied.text})` };
  if (policy.allow.some((n) => inNetwork(parsed, n))) return { allowed: true, address };
  const refused = REFUSED_RANGES[parsed.range()];
  if (refused) return { allowed: false, address, why: refused };
  return { allowed: true, address };
}

/** "resolves to 169.254.169.254, which is link-local; cloud endpoints may not be …": the rule a refusal names. */
export function describeRefusal(verdict: Extract<AddressVerdict, { allowed: false }>, subject: EndpointSubject = 'cloud endpoints'): string {
  const rule = verdict.why.startsWith('in CLOUD_ENDPOINT_DENY') ? 'the operator denies that network' : refusedClasses(subject);
  return `resolves to ${verdict.address}, which is ${verdict.why}; ${rule}`;
}

/** The host of a URL as a bare address when it is an IP literal ([::1] -> ::1), else null. */
export function ipLiteralOf(hostname: string): string | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) ? bare : null;
}

export type UrlVerdict = { ok: true; url: URL } | { ok: false; why: string };

/**
 * What an endpoint URL must be before anything connects to it: absolute http(s), https unless
 * the operator allows http, no user info (credentials in a URL would be stored and shown), no
 * control characters or spaces (the URL parser silently drops some), bounded length.
 */
export function judgeEndpointUrl(policy: EndpointPolicy, raw: string, subject: EndpointSubject = 'cloud endpoints'): UrlVerdict {
  if (raw.length > MAX_ENDPOINT_URL_LENGTH) return { ok: false, why: `is longer than ${MAX_ENDPOINT_URL_LENGTH} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return { ok: false, why: 'contains spaces or control characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, why: 'is not an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, why: 'must use https' };
  if (url.username || url.password) return { ok: false, why: 'must not contain user info (user:password@)' };
  if (!url.hostname) return { ok: false, why: 'has no host' };
  const insecure = schemeRefusal(policy, url.protocol, subject);
  if (insecure) return { ok: false, why: insecure };
  return { ok: true, url };
}

/** Why a connection with this protocol (`http:`, `https:`) is refused, or null. */
export function schemeRefusal(policy: EndpointPolicy, protocol: string, subject: EndpointSubject = 'cloud endpoints'): string | null {
  if (protocol === 'https:' || (protocol === 'http:' && policy.allowInsecureHttp)) return null;
  if (protocol === 'http:') return `uses http://; ${subject} must use https:// unless the operator sets CLOUD_ALLOW_INSECURE_HTTP=true`;
  return 'must use https';
}
