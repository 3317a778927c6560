/**
 * Glance's image schema rules shared by create and PATCH: which attributes are core, which are
 * read-only (403), which values are valid (400), and that extra properties are strings.
 */
import type { ImageRecord, Visibility } from '../cloud/cloud.state';
import { OpenStackError } from '../http/openstack-error';

export const READ_ONLY = new Set([
  'checksum', 'created_at', 'updated_at', 'size', 'status', 'virtual_size', 'os_hash_algo', 'os_hash_value',
  'self', 'file', 'schema', 'direct_url', 'stores', 'locations',
]);
export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'];
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'];
const VISIBILITIES: Visibility[] = ['public', 'private', 'shared', 'community'];

function schemaError(detail: string): OpenStackError {
  return new OpenStackError(400, `Provided object does not match schema 'image': ${detail}`);
}

function oneOf(value: unknown, allowed: string[], nullable: boolean): string | null {
  if (value === null && nullable) return null;
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw schemaError(`${JSON.stringify(value)} is not one of ${JSON.stringify(nullable ? [...allowed, null] : allowed)}`);
  }
  return value;
}

function nonNegativeInt(key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw schemaError(`${JSON.stringify(value)} is not valid for '${key}'`);
  return value;
}

function bool(key: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw schemaError(`${JSON.stringify(value)} is not of type 'boolean' for '${key}'`);
  return value;
}

/** Rejects an attribute no caller may set; Glance answers 403 for these, not 400. */
export function assertWritable(key: string): void {
  if (READ_ONLY.has(key)) throw new OpenStackError(403, `Attribute '${key}' is read-only.`);
  if (key.startsWith('os_glance')) throw new OpenStackError(403, `Attribute '${key}' is reserved.`);
  if (key === 'id') throw new OpenStackError(403, "Attribute 'id' is read-only.");
}

/** Applies one attribute to a record (create or PATCH add/replace), validating its value. */
export function setAttribute(image: ImageRecord, key: string, value: unknown): void {
  switch (key) {
    case 'name':
      if (value !== null && (typeof value !== 'string' || value.length > 255)) throw schemaError(`${JSON.stringify(value)} is not valid for 'name'`);
      image.name = value;
      return;
    case 'visibility':
      image.visibility = oneOf(value, VISIBILITIES, false) as Visibility;
      return;
    case 'disk_format':
      image.diskFormat = oneOf(value, DISK_FORMATS, true);
      return;
    case 'container_format':
      image.containerFormat = oneOf(value, CONTAINER_FORMATS, true);
      return;
    case 'min_disk':
      image.minDisk = nonNegativeInt(key, value);
      return;
    case 'min_ram':
      image.minRam = nonNegativeInt(key, value);
      return;
    case 'protected':
      image.protected = bool(key, value);
      return;
    case 'os_hidden':
      image.osHidden = bool(key, value);
      return;
    case 'owner':
      if (typeof value !== 'string') throw schemaError(`${JSON.stringify(value)} is not of type 'string' for 'owner'`);
      image.owner = value;
      return;
    case 'tags':
      if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t.length > 255)) throw schemaError(`${JSON.stringify(value)} is not valid for 'tags'`);
      image.tags = [...new Set(value as string[])];
      return;
    default:
      if (typeof value !== 'string') throw schemaError(`${JSON.stringify(value)} is not of type 'string'`);
      if (key.length > 255) throw schemaError(`property name too long`);
      image.properties[key] = value;
  }
}

const CORE_WRITABLE = new Set(['name', 'visibility', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'protected', 'os_hidden', 'owner', 'tags']);

export function isCoreAttribute(key: string): boolean {
  return CORE_WRITABLE.has(key) || READ_ONLY.has(key) || key === 'id';
}
