/** Numbers as people read them in a terminal: bytes, rates, durations, ages. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

export function rate(bytesPerSecond: number | null | undefined): string {
  return !bytesPerSecond ? '-' : `${bytes(Math.round(bytesPerSecond))}/s`;
}

/** 850 -> "850ms", 12_300 -> "12.3s", 754_000 -> "12m34s". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return m < 60 ? `${m}m${String(s).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return '-';
  return s < 1 ? `${Math.round(s)}s` : duration(s * 1000);
}

export function percent(done: number | null | undefined, total: number | null | undefined): string {
  if (!total || done === null || done === undefined) return '-';
  return `${Math.floor((done / total) * 100)}%`;
}

/** "1h", "30m", "45s", "2d" -> milliseconds; null when it is not such a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * factor;
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
