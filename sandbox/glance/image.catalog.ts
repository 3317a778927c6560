/**
 * Image records of one cloud: creation with Glance's defaults and checks, visibility rules, and
 * the transitions that bring data in (upload, snapshot, seeding) and out (delete).
 */
import { randomUUID } from 'node:crypto';
import type { CloudContext } from '../cloud/cloud.context';
import type { ImageRecord } from '../cloud/cloud.state';
import type { SeedImageOptions } from '../config/cloud-options.schema';
import { OpenStackError } from '../http/openstack-error';
import type { AuthContext } from '../http/request-context';
import { assertWritable, setAttribute } from './image-attributes';
import type { ImageDigest } from './image-hashing';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function newImageRecord(owner: string, id: string = randomUUID()): ImageRecord {
  const now = new Date();
  return {
    id,
    name: null,
    status: 'queued',
    visibility: 'shared',
    protected: false,
    osHidden: false,
    owner,
    diskFormat: null,
    containerFormat: null,
    minDisk: 0,
    minRam: 0,
    size: null,
    virtualSize: null,
    checksum: null,
    osHashAlgo: null,
    osHashValue: null,
    tags: [],
    properties: {},
    createdAt: now,
    updatedAt: now,
  };
}

/** `POST /v2/images`: validates like Glance (403 read-only, 400 schema, 409 duplicate id). */
export function createImage(cloud: CloudContext, owner: string, body: unknown): ImageRecord {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new OpenStackError(400, 'Body expected in request.');
  const fields = body as Record<string, unknown>;
  let id: string | undefined;
  if (fields.id !== undefined) {
    if (typeof fields.id !== 'string' || !UUID.test(fields.id)) throw new OpenStackError(400, "Provided object does not match schema 'image': 'id' is not a valid UUID");
    if (cloud.state.images.has(fields.id)) throw new OpenStackError(409, `Image with identifier ${fields.id} already exists!`);
    id = fields.id;
  }
  const image = newImageRecord(owner, id);
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'id') continue;
    assertWritable(key);
    setAttribute(image, key, value);
  }
  // Glance builds its schema's disk_format enum from its `disk_formats` setting.
  if (image.diskFormat !== null && !cloud.config.diskFormats.includes(image.diskFormat)) {
    throw new OpenStackError(400, `Provided object does not match schema 'image': ${JSON.stringify(image.diskFormat)} is not one of ${JSON.stringify([...cloud.config.diskFormats, null])}`);
  }
  cloud.state.images.set(image.id, image);
  return image;
}

/** Glance's default listing for a project; admins see every image. */
export function isVisible(image: ImageRecord, auth: AuthContext): boolean {
  if (auth.isAdmin || image.owner === auth.projectId) return true;
  return image.visibility === 'public' || image.visibility === 'community';
}

export function findImage(cloud: CloudContext, id: string, auth: AuthContext): ImageRecord {
  const image = cloud.state.images.get(id);
  if (!image || !isVisible(image, auth)) throw new OpenStackError(404, `No image found with ID ${id}`);
  return image;
}

export function markActive(cloud: CloudContext, image: ImageRecord, digest: ImageDigest): void {
  image.size = digest.size;
  image.checksum = digest.md5;
  image.osHashAlgo = 'sha512';
  image.osHashValue = digest.sha512;
  image.status = 'active';
  image.updatedAt = new Date();
  cloud.events.emit('image.active', { id: image.id, name: image.name, size: digest.size, checksum: digest.md5, osHashValue: digest.sha512 });
}

export async function deleteImage(cloud: CloudContext, image: ImageRecord): Promise<void> {
  if (image.protected) throw new OpenStackError(403, `Image ${image.id} is protected and cannot be deleted.`);
  cloud.state.images.delete(image.id);
  image.status = 'deleted';
  await cloud.imageFiles.remove(image.id);
}

/** Creates an active image from generated content or a local file (startup seeding and control API). */
export async function seedImage(cloud: CloudContext, owner: string, options: SeedImageOptions): Promise<ImageRecord> {
  if (options.id && cloud.state.images.has(options.id)) throw new OpenStackError(409, `Image with identifier ${options.id} already exists!`);
  const image = newImageRecord(owner, options.id);
  image.name = options.name;
  image.diskFormat = options.diskFormat ?? 'raw';
  image.containerFormat = options.containerFormat ?? 'bare';
  image.visibility = options.visibility ?? 'public';
  image.properties = { ...options.properties };
  image.tags = [...(options.tags ?? [])];
  image.status = 'saving';
  cloud.state.images.set(image.id, image);
  try {
    const digest = options.file
      ? await cloud.imageFiles.importFile(image.id, options.file, cloud.tasks.signal)
      : await cloud.imageFiles.generate(image.id, options.seed ?? options.name, options.sizeBytes ?? 0, cloud.tasks.signal);
    markActive(cloud, image, digest);
    return image;
  } catch (err) {
    cloud.state.images.delete(image.id);
    throw err;
  }
}
