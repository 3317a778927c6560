/**
 * MonitoringSource on Nagios 4's statusjson.cgi (basic auth) over undici. An unreachable or
 * failing Nagios is an error, never an empty list that would read as "nothing wrong".
 */
import type { EndpointPolicy } from '../../domain/endpoint-policy';
import type { MonitoringSource, NagiosProgramStatus, NagiosStatusEndpoint, ServiceStatus } from '../../ports/monitoring.port';
import { GuardedTransport } from '../net/guarded-transport';
import { integrationError } from '../net/integration-error';
import { integrationRequest, parseJson } from '../net/integration-http';
import { cleanOutput, servicesOf } from './nagios-status.mapping';

export interface NagiosStatusSourceOptions {
  /** The endpoint policy (a transport of our own is built on it), or a transport to share. */
  policy?: EndpointPolicy;
  transport?: GuardedTransport;
  /** One attempt, headers and body together (default 15 s). */
  timeoutMs?: number;
  /** Attempts per call when Nagios does not answer or says 5xx (default 2). */
  attempts?: number;
  /** Largest answer read (default 32 MiB: a servicelist of some thousand services is a few MiB). */
  maxBytes?: number;
}

interface StatusJson {
  result?: { type_code?: unknown; type_text?: unknown; message?: unknown; query_time?: unknown };
  data?: unknown;
}

export class NagiosStatusSource implements MonitoringSource {
  private readonly transport: GuardedTransport;
  private readonly owned: boolean;

  constructor(private readonly options: NagiosStatusSourceOptions) {
    if (!options.transport && !options.policy) throw new Error('NagiosStatusSource needs a policy or a transport');
    this.owned = !options.transport;
    this.transport = options.transport ?? new GuardedTransport({ policy: options.policy!, subject: 'integration endpoints', connections: 4 });
  }

  async services(endpoint: NagiosStatusEndpoint): Promise<ServiceStatus[]> {
    const data = await this.query(endpoint, { query: 'servicelist', details: 'true' });
    const services = servicesOf(data);
    if (!services) throw integrationError(serverOf(endpoint), 'BAD_RESPONSE', 'the servicelist answer has no data.servicelist of hosts and services');
    return services;
  }

  async hasHost(endpoint: NagiosStatusEndpoint, hostName: string): Promise<boolean> {
    const data = await this.query(endpoint, { query: 'hostlist' });
    const list = (data as { hostlist?: unknown } | null)?.hostlist;
    if (!list || typeof list !== 'object' || Array.isArray(list)) {
      throw integrationError(serverOf(endpoint), 'BAD_RESPONSE', 'the hostlist answer has no data.hostlist');
    }
    return Object.prototype.hasOwnProperty.call(list, hostName);
  }

  async programStatus(endpoint: NagiosStatusEndpoint): Promise<NagiosProgramStatus> {
    const { data, result } = await this.answer(endpoint, { query: 'programstatus' });
    const start = (data as { programstatus?: { program_start?: unknown } } | null)?.programstatus?.program_start;
    const now = result?.query_time;
    if (typeof start !== 'number' || !Number.isFinite(start) || typeof now !== 'number' || !Number.isFinite(now)) {
      throw integrationError(serverOf(endpoint), 'BAD_RESPONSE', 'the programstatus answer has no program_start and query_time');
    }
    return { programStart: start, now };
  }

  close(): Promise<void> {
    return this.owned ? this.transport.close() : Promise.resolve();
  }

  private async query(endpoint: NagiosStatusEndpoint, params: Record<string, string>): Promise<unknown> {
    return (await this.answer(endpoint, params)).data;
  }

  private async answer(endpoint: NagiosStatusEndpoint, params: Record<string, string>): Promise<StatusJson> {
    const server = serverOf(endpoint);
    let url: URL;
    try {
      url = new URL(endpoint.statusUrl);
    } catch {
      throw integrationError(server, 'ENDPOINT_REFUSED', 'the status URL is not an absolute URL');
    }
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    const res = await integrationRequest(this.transport, {
      server,
      url: url.toString(),
      method: 'GET',
      headers: { accept: 'application/json', authorization: `Basic ${Buffer.from(`${endpoint.username}:${endpoint.password}`).toString('base64')}` },
      timeoutMs: this.options.timeoutMs ?? 15_000,
      attempts: this.options.attempts ?? 2,
      maxBytes: this.options.maxBytes ?? 32 * 1024 * 1024,
    });
    if (res.status === 401 || res.status === 403) {
      throw integrationError(server, 'AUTH_REFUSED', `the user name or password was refused (HTTP ${res.status})`, { extra: { status: res.status } });
    }
    if (res.status < 200 || res.status >= 300) {
      throw integrationError(server, 'BAD_RESPONSE', `HTTP ${res.status}`, { retryable: res.status >= 500 || res.status === 429, extra: { status: res.status } });
    }
    const body = parseJson(server, res, 'Nagios JSON') as StatusJson;
    const code = body?.result?.type_code;
    if (code !== 0) {
      // statusjson's own refusal (bad query, no such host): its message, cleaned and bounded.
      const message = cleanOutput(body?.result?.message) || cleanOutput(body?.result?.type_text) || 'no result';
      throw integrationError(server, 'BAD_RESPONSE', `statusjson.cgi answered ${typeof code === 'number' ? `type_code ${code}` : 'without a result'}: ${message}`);
    }
    return body;
  }
}

/** `Nagios <status URL>`: the URL without its query, never with credentials (they are not in it). */
export function serverOf(endpoint: NagiosStatusEndpoint): string {
  let shown = endpoint.statusUrl;
  try {
    const url = new URL(endpoint.statusUrl);
    url.search = '';
    url.username = '';
    url.password = '';
    shown = url.toString();
  } catch {
    /* shown as given, bounded below */
  }
  return `Nagios ${shown.slice(0, 200)}`;
}
