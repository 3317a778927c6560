/**
 * `GET /v2/images` filtering, sorting and marker pagination as Glance does it, including
 * filters on free-form properties (`?hw_disk_bus=virtio`) and the `in:` operator.
 */
import type { Request } from 'express';
import type { ImageRecord } from '../cloud/cloud.state';
import { OpenStackError } from '../http/openstack-error';
import { queryParam } from '../http/request-context';

const PAGING = new Set(['limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'member_status']);
const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;

function core(image: ImageRecord, key: string): string | undefined {
  const value = (
    {
      id: image.id,
      name: image.name,
      status: image.status,
      visibility: image.visibility,
      owner: image.owner,
      disk_format: image.diskFormat,
      container_format: image.containerFormat,
      protected: String(image.protected),
      os_hidden: String(image.osHidden),
      checksum: image.checksum,
      os_hash_value: image.osHashValue,
    } as Record<string, string | null | undefined>
  )[key];
  return value ?? undefined;
}

function matches(image: ImageRecord, key: string, wanted: string): boolean {
  const actual = key in image.properties ? image.properties[key] : core(image, key);
  if (wanted.startsWith('in:')) return wanted.slice(3).split(',').includes(actual ?? '');
  return actual === wanted;
}

export interface ImagePage {
  images: ImageRecord[];
  nextMarker?: string;
  limit: number;
}

export function listImages(req: Request, candidates: ImageRecord[]): ImagePage {
  let images = candidates;
  const hiddenFilter = queryParam(req, 'os_hidden');
  if (hiddenFilter === undefined) images = images.filter((i) => !i.osHidden);
  for (const [key, raw] of Object.entries(req.query)) {
    if (PAGING.has(key)) continue;
    const values = Array.isArray(raw) ? raw.map(String) : [String(raw)];
    if (key === 'tag') images = images.filter((i) => values.every((t) => i.tags.includes(t)));
    else if (key === 'size_min') images = images.filter((i) => (i.size ?? -1) >= Number(values[0]));
    else if (key === 'size_max') images = images.filter((i) => i.size !== null && i.size <= Number(values[0]));
    else images = images.filter((i) => values.every((v) => matches(i, key, v)));
  }
  images = sortImages(req, images);

  const limitRaw = queryParam(req, 'limit');
  const limit = limitRaw === undefined ? DEFAULT_LIMIT : Math.min(Number(limitRaw), MAX_LIMIT);
  if (!Number.isInteger(limit) || limit < 0) throw new OpenStackError(400, 'limit param must be an integer');
  const marker = queryParam(req, 'marker');
  if (marker !== undefined) {
    const at = images.findIndex((i) => i.id === marker);
    if (at < 0) throw new OpenStackError(400, `marker not found`);
    images = images.slice(at + 1);
  }
  const page = images.slice(0, limit);
  return { images: page, limit, nextMarker: images.length > limit && page.length > 0 ? page[page.length - 1]!.id : undefined };
}

function sortImages(req: Request, images: ImageRecord[]): ImageRecord[] {
  const sort = queryParam(req, 'sort');
  const keys: Array<[string, 'asc' | 'desc']> = sort
    ? sort.split(',').map((part) => {
        const [key, dir] = part.split(':');
        return [key!, dir === 'asc' ? 'asc' : 'desc'];
      })
    : [[queryParam(req, 'sort_key') ?? 'created_at', queryParam(req, 'sort_dir') === 'asc' ? 'asc' : 'desc']];
  const value = (i: ImageRecord, key: string): string | number =>
    key === 'created_at' ? i.createdAt.getTime() : key === 'updated_at' ? i.updatedAt.getTime() : key === 'size' ? (i.size ?? -1) : (core(i, key) ?? '');
  return [...images].sort((a, b) => {
    for (const [key, dir] of keys) {
      const [x, y] = [value(a, key), value(b, key)];
      if (x !== y) return (x < y ? -1 : 1) * (dir === 'asc' ? 1 : -1);
    }
    // Equal timestamps: keep a stable order so marker pagination never skips or repeats.
    return a.id < b.id ? -1 : 1;
  });
}

