/**
 * What Nagios's statusjson.cgi says about services, as samples: pure functions, so the mapping
 * is tested without a Nagios. Nagios reports `status` as a bitmask (one bit set) and times in
 * epoch milliseconds.
 */
import { SampleState } from '../../domain/enums';
import type { ServiceStatus } from '../../ports/monitoring.port';
import { cleanText } from '../net/integration-error';

/** statusjson's service status bits (cgi/statusjson.c: SERVICE_PENDING ... SERVICE_CRITICAL). */
export const NAGIOS_SERVICE_STATUS = { PENDING: 1, OK: 2, WARNING: 4, UNKNOWN: 8, CRITICAL: 16 } as const;

/** A pending (never checked) service, an unknown one, or a value we do not know: UNKNOWN, never OK. */
export function sampleStateOf(status: unknown): SampleState {
  switch (status) {
    case NAGIOS_SERVICE_STATUS.OK:
      return SampleState.OK;
    case NAGIOS_SERVICE_STATUS.WARNING:
      return SampleState.WARNING;
    case NAGIOS_SERVICE_STATUS.CRITICAL:
      return SampleState.CRITICAL;
    default:
      return SampleState.UNKNOWN;
  }
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/;

/**
 * The value of the first performance datum: `load=95;80;90` -> 95, `'active calls'=3c;;;` -> 3,
 * `time=0.012s` -> 0.012; null when there is none or it is `U` (undetermined).
 */
export function firstPerfValue(perfData: unknown): number | null {
  if (typeof perfData !== 'string') return null;
  const text = perfData.trimStart();
  if (!text) return null;
  let rest: string;
  if (text.startsWith("'")) {
    // A quoted label may hold spaces and '='; '' inside it is a literal quote.
    const quoted = /^'(?:[^']|'')*'=/.exec(text);
    if (!quoted) return null;
    rest = text.slice(quoted[0].length);
  } else {
    const eq = text.indexOf('=');
    if (eq <= 0 || /\s/.test(text.slice(0, eq))) return null;
    rest = text.slice(eq + 1);
  }
  const match = NUMBER.exec(rest);
  if (!match) return null;
  const value = Number(match[0]);
  return Number.isFinite(value) ? value : null;
}

/** `last_check` in epoch ms; 0 (never checked) stays the epoch: never a fresh observation. */
export function observedAtOf(lastCheck: unknown): Date {
  return new Date(typeof lastCheck === 'number' && Number.isFinite(lastCheck) && lastCheck > 0 ? lastCheck : 0);
}

/** Plugin output is the VM's text: control characters out, bounded. */
export function cleanOutput(output: unknown): string {
  return cleanText(output, 500);
}

/**
 * `data.servicelist` of `query=servicelist&details=true`: host -> description -> service
 * details. Null when the shape is not that (the caller reports a bad answer).
 */
export function servicesOf(data: unknown): ServiceStatus[] | null {
  const list = (data as { servicelist?: unknown } | null)?.servicelist;
  if (!list || typeof list !== 'object' || Array.isArray(list)) return null;
  const out: ServiceStatus[] = [];
  for (const [host, services] of Object.entries(list as Record<string, unknown>)) {
    if (!services || typeof services !== 'object' || Array.isArray(services)) return null;
    for (const [service, raw] of Object.entries(services as Record<string, unknown>)) {
      const detail = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      out.push({
        host,
        service,
        state: sampleStateOf(detail.status),
        observedAt: observedAtOf(detail.last_check),
        value: firstPerfValue(detail.perf_data),
        output: cleanOutput(detail.plugin_output),
      });
    }
  }
  return out;
}
