/**
 * The broker's way out to endpoints others chose (clouds, and integrations: Nagios, Kamailio's
 * JSON-RPC): an undici Agent whose connector resolves the host, judges every address with the
 * endpoint policy (src/domain/endpoint-policy.ts) and dials the address it checked, never the name
 * again, so a DNS answer that changes between the check and the connection (rebinding) cannot slip
 * through. TLS keeps the original host name for SNI and the certificate check. undici's request()
 * follows no redirects, so nothing else decides where a request goes. Non-HTTP connections (SSH,
 * MySQL) use resolveEndpoint() and guarded-socket.ts for the same rule.
 */
import dns from 'node:dns';
import tls from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { describeRefusal, type EndpointPolicy, type EndpointSubject, ipLiteralOf, judgeAddress, schemeRefusal } from '../../domain/endpoint-policy';

/** A connection the endpoint policy refuses; adapters turn it into a non-retryable error naming the service. */
export class EndpointRefusedError extends Error {
  readonly code = ENDPOINT_REFUSED;

  constructor(readonly reason: string) {
    super(reason);
    this.name = 'EndpointRefusedError';
  }
}

/**
 * The one sentence for every connection failure below the protocol (refused, reset, unresolvable,
 * TLS, timed out): the endpoint is someone else's choice, and differing words would make the
 * broker a port scanner. The real cause goes to the log.
 */
export const NO_ANSWER = "no answer (the connection failed, was cut or timed out; the broker's log has the cause)";

/** The `code` of an EndpointRefusedError, for code that sees the error through undici's wrapping. */
export const ENDPOINT_REFUSED = 'ERR_ENDPOINT_REFUSED';

export interface GuardedTransportOptions {
  policy: EndpointPolicy;
  /** How refusals name what they guard (default: cloud endpoints). */
  subject?: EndpointSubject;
  /** Connections per origin (default 32). */
  connections?: number;
  /** PEM CA certificates trusted on top of Node's roots (CLOUD_CA_FILE); null: Node's roots only. */
  ca?: string | null;
  /** Socket connect timeout per address, and the bound on the DNS lookup (default 10 s). */
  connectTimeoutMs?: number;
}

/** Failures after which the next resolved address is worth a try (the name has several, one of them down). */
export const TRY_NEXT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT']);

async function lookupAll(hostname: string, timeoutMs: number): Promise<dns.LookupAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // EAI_AGAIN: what a resolver that does not answer in time says; the request was never sent.
    timer = setTimeout(() => reject(Object.assign(new Error(`DNS lookup of ${hostname} timed out after ${timeoutMs} ms`), { code: 'EAI_AGAIN' })), timeoutMs);
  });
  try {
    return await Promise.race([dns.promises.lookup(hostname, { all: true }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The addresses to dial for `hostname`, each allowed by the policy, IPv4 first. Throws
 * EndpointRefusedError when any address is refused (a name that also points somewhere forbidden
 * is not trusted for the rest), and the resolver's own error when the name does not resolve.
 */
export async function resolveEndpoint(policy: EndpointPolicy, hostname: string, timeoutMs: number, subject: EndpointSubject = 'cloud endpoints'): Promise<string[]> {
  const literal = ipLiteralOf(hostname);
  const candidates = literal ? [literal] : (await lookupAll(hostname, timeoutMs)).sort((a, b) => a.family - b.family).map((a) => a.address);
  const allowed: string[] = [];
  for (const candidate of candidates) {
    const verdict = judgeAddress(policy, candidate);
    if (!verdict.allowed) throw new EndpointRefusedError(describeRefusal(verdict, subject));
    allowed.push(verdict.address);
  }
  if (allowed.length === 0) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
  return allowed;
}

export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** undici's own connector, given a checked address to dial instead of the name. */
function guardedConnector(policy: EndpointPolicy, subject: EndpointSubject, base: buildConnector.connector, lookupTimeoutMs: number): buildConnector.connector {
  return (options, callback) => {
    const insecure = schemeRefusal(policy, options.protocol, subject);
    if (insecure) return callback(new EndpointRefusedError(insecure), null);
    // SNI and the certificate check use the name the URL gave; an IP-literal URL is checked against the certificate's IP SANs.
    const servername = ipLiteralOf(options.hostname) ? undefined : options.servername || options.hostname;
    const dial = (addresses: string[], index: number): void => {
      base({ ...options, hostname: addresses[index]!, servername }, (...result) => {
        const [err] = result;
        if (err && index + 1 < addresses.length && TRY_NEXT.has(codeOf(err) ?? '')) return dial(addresses, index + 1);
        callback(...result);
      });
    };
    resolveEndpoint(policy, options.hostname, lookupTimeoutMs, subject).then(
      (addresses) => dial(addresses, 0),
      (err: Error) => callback(err, null),
    );
  };
}

export class GuardedTransport {
  /** Keep-alive pool shared by every endpoint; undici keeps one connection pool per origin inside it. */
  readonly dispatcher: Agent;
  readonly policy: EndpointPolicy;
  readonly subject: EndpointSubject;
  private readonly timeoutMs: number;

  constructor(options: GuardedTransportOptions) {
    this.policy = options.policy;
    this.subject = options.subject ?? 'cloud endpoints';
    this.timeoutMs = options.connectTimeoutMs ?? 10_000;
    const base = buildConnector({
      timeout: this.timeoutMs,
      // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn verification off.
      rejectUnauthorized: true,
      ...(options.ca ? { ca: [...tls.rootCertificates, options.ca] } : {}),
    });
    // Shorter than any server's idle timeout we know (sandbox 75 s, eventlet 900 s), so we close first
    // and never send on a socket the server is closing (a reset there would make a POST ambiguous).
    this.dispatcher = new Agent({
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 30_000,
      connections: options.connections ?? 32,
      connect: guardedConnector(this.policy, this.subject, base, this.timeoutMs),
    });
  }

  /**
   * Why the policy refuses `url` (its scheme, or an address its host resolves to), or null. Null
   * too when the name does not resolve: the connection attempt then fails like any other, with the
   * same words whatever the cause, so this check is no DNS oracle.
   */
  async refusal(url: string): Promise<string | null> {
    const parsed = new URL(url);
    const insecure = schemeRefusal(this.policy, parsed.protocol, this.subject);
    if (insecure) return insecure;
    try {
      await resolveEndpoint(this.policy, parsed.hostname, this.timeoutMs, this.subject);
      return null;
    } catch (err) {
      if (err instanceof EndpointRefusedError) return err.reason;
      return null;
    }
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
