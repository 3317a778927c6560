/**
 * Neutron's generic collection query: any attribute as a filter (repeat a key for "any of"),
 * `fields` projection, and `limit`/`marker` paging with a `<collection>_links` next link.
 */
import type { Request } from 'express';
import { OpenStackError } from '../http/openstack-error';

const CONTROL = new Set(['fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse']);

function asText(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return value === null || value === undefined ? '' : String(value);
}

function matches(view: Record<string, unknown>, key: string, wanted: string[]): boolean {
  if (key === 'fixed_ips') {
    // ?fixed_ips=ip_address=10.0.0.5 or ?fixed_ips=subnet_id=...
    const ips = (view.fixed_ips ?? []) as Array<Record<string, string>>;
    return wanted.every((w) => {
      const [k, v] = w.split('=');
      return ips.some((ip) => ip[k ?? ''] === v);
    });
  }
  if (!(key in view)) return true; // Neutron ignores filters on unknown attributes
  const actual = asText(view[key]).toLowerCase();
  return wanted.some((w) => w.toLowerCase() === actual);
}

export function neutronCollection(req: Request, collection: string, baseUrl: string, views: Array<Record<string, unknown>>): Record<string, unknown> {
  let items = views;
  for (const [key, raw] of Object.entries(req.query)) {
    if (CONTROL.has(key)) continue;
    const wanted = Array.isArray(raw) ? raw.map(String) : [String(raw)];
    items = items.filter((v) => matches(v, key, wanted));
  }
  const marker = typeof req.query.marker === 'string' ? req.query.marker : undefined;
  if (marker) {
    const at = items.findIndex((v) => v.id === marker);
    if (at < 0) throw new OpenStackError(404, `${collection} ${marker} could not be found.`);
    items = items.slice(at + 1);
  }
  const limit = typeof req.query.limit === 'string' ? Number(req.query.limit) : undefined;
  const body: Record<string, unknown> = {};
  if (limit !== undefined && Number.isInteger(limit) && limit > 0 && items.length > limit) {
    items = items.slice(0, limit);
    body[`${collection}_links`] = [{ rel: 'next', href: `${baseUrl}/v2.0/${collection}?limit=${limit}&marker=${String(items[items.length - 1]!.id)}` }];
  }
  body[collection] = items.map((v) => project(req, v));
  return body;
}

export function project(req: Request, view: Record<string, unknown>): Record<string, unknown> {
  const raw = req.query.fields;
  const fields = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? [raw] : [];
  if (fields.length === 0) return view;
  return Object.fromEntries(Object.entries(view).filter(([k]) => fields.includes(k)));
}
