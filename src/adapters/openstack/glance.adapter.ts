/**
 * Glance v2: images (list with filters, show, create, delete) and their data as streams in both
 * directions. Image bytes are never buffered whole and never retried here: a broken transfer is
 * retried as a whole by the pipeline step that started it.
 */
import type { Readable } from 'node:stream';
import { ConflictError, NotFoundError } from '../../domain/errors';
import type { CreateImageRequest, Image } from '../../ports/cloud-api.port';
import { type CallSpec, nextMarker, type OpenStackHttpClient, withQuery } from './http.client';
import type { OpenStackSession } from './openstack.session';

/** Glance's own attributes: not free-form properties, and never copied from another image. */
const CORE = new Set([
  'id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'owner', 'disk_format', 'container_format',
  'min_disk', 'min_ram', 'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value', 'tags',
  'created_at', 'updated_at', 'self', 'file', 'schema', 'direct_url', 'locations', 'stores', 'members',
]);

/** Properties Glance sets itself (403 when a client sends them) beside the core ones. */
function isSettableProperty(key: string): boolean {
  return !CORE.has(key) && !key.startsWith('os_glance') && key.length > 0 && key.length <= 255;
}

type ImageJson = Record<string, unknown> & { id: string; status: string };

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function toImage(j: ImageJson): Image {
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(j)) if (!CORE.has(key) && typeof value === 'string') properties[key] = value;
  return {
    id: j.id,
    name: str(j.name),
    status: j.status,
    size: typeof j.size === 'number' ? j.size : null,
    diskFormat: str(j.disk_format),
    containerFormat: str(j.container_format),
    checksum: str(j.checksum),
    hashAlgo: str(j.os_hash_algo),
    hashValue: str(j.os_hash_value),
    owner: str(j.owner),
    properties,
  };
}

export interface ImageFilter {
  name?: string;
  status?: string;
  properties?: Record<string, string>;
}

export class GlanceAdapter {
  constructor(
    private readonly http: OpenStackHttpClient,
    private readonly session: OpenStackSession,
  ) {}

  async listImages(filter: ImageFilter = {}): Promise<Image[]> {
    const query: Record<string, string | undefined> = { name: filter.name, status: filter.status, ...filter.properties, limit: '200' };
    const images: ImageJson[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const res = await this.call({ method: 'GET', operation: 'GET /v2/images', path: withQuery('/v2/images', { ...query, marker }), retry: 'idempotent' });
      const body = res.json<{ images: ImageJson[]; next?: string }>();
      images.push(...body.images);
      const next = nextMarker(body.next);
      if (!next || next === marker || body.images.length === 0) break;
      marker = next;
    }
    return images.map(toImage).filter((i) => Object.entries(filter.properties ?? {}).every(([k, v]) => i.properties[k] === v));
  }

  async getImage(id: string): Promise<Image | null> {
    const res = await this.call({ method: 'GET', operation: 'GET /v2/images/{id}', path: `/v2/images/${encodeURIComponent(id)}`, retry: 'idempotent', accept: [404] });
    return res.status === 404 ? null : toImage(res.json<ImageJson>());
  }

  async createImage(req: CreateImageRequest): Promise<Image> {
    const body: Record<string, unknown> = { name: req.name, disk_format: req.diskFormat, container_format: req.containerFormat };
    if (req.minDisk !== undefined) body.min_disk = req.minDisk;
    if (req.minRam !== undefined) body.min_ram = req.minRam;
    // Glance answers 403 to read-only attributes (status, size, checksum, os_hash_*, stores...): only
    // free-form string properties go out, whatever the caller copied from a source image.
    for (const [key, value] of Object.entries(req.properties)) if (isSettableProperty(key) && typeof value === 'string') body[key] = value;
    // A POST that creates an image: after an ambiguous failure, look for an image with this name and all of the
    // request's properties (the broker's idempotency tags) before creating again; without properties such a
    // failure is final (see RetryMode 'create').
    const properties = Object.fromEntries(Object.entries(req.properties).filter(([k]) => isSettableProperty(k)));
    const reconcile =
      Object.keys(properties).length > 0
        ? async (): Promise<Image | undefined> =>
            (await this.listImages({ name: req.name, properties })).find((i) => i.status !== 'killed' && i.status !== 'deleted')
        : undefined;
    return this.http.create(
      await this.spec({ method: 'POST', operation: 'POST /v2/images', path: '/v2/images', json: body, retry: 'create' }),
      (res) => toImage(res.json<ImageJson>()),
      reconcile,
    );
  }

  async deleteImage(id: string): Promise<void> {
    await this.call({ method: 'DELETE', operation: 'DELETE /v2/images/{id}', path: `/v2/images/${encodeURIComponent(id)}`, retry: 'idempotent', accept: [404] });
  }

  /** A snapshot Nova may have started for this server under this name (see NovaAdapter.createServerImage). */
  async findSnapshot(serverId: string, name: string, metadata: Record<string, string>): Promise<string | undefined> {
    const found = await this.listImages({ name, properties: { instance_uuid: serverId } });
    return found.find((i) => i.status !== 'killed' && Object.entries(metadata).every(([k, v]) => i.properties[k] === v))?.id;
  }

  async downloadImage(id: string, signal?: AbortSignal): Promise<{ stream: Readable; size: number | null; md5: string | null }> {
    const operation = 'GET /v2/images/{id}/file';
    // Retried only until the response starts: once bytes flow, a failure errors the stream.
    const res = await this.http.stream(
      await this.spec({ method: 'GET', operation, path: `/v2/images/${encodeURIComponent(id)}/file`, retry: 'idempotent', accept: [404], signal }),
    );
    if (res.status === 404) throw new NotFoundError('image', id);
    if (res.status === 204) {
      res.body.destroy();
      throw new ConflictError(`${this.http.where({ service: 'glance', operation })}: image ${id} has no data yet`, this.http.details({ service: 'glance', operation }, { imageId: id }));
    }
    const length = res.header('content-length');
    return { stream: res.body, size: length !== undefined && /^\d+$/.test(length) ? Number(length) : null, md5: res.header('content-md5') ?? null };
  }

  async uploadImage(id: string, data: Readable, size: number | null, signal?: AbortSignal): Promise<void> {
    const operation = 'PUT /v2/images/{id}/file';
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (size !== null) headers['content-length'] = String(size);
    try {
      const spec = await this.spec({ method: 'PUT', operation, path: `/v2/images/${encodeURIComponent(id)}/file`, body: data, retry: 'once', streaming: true, accept: [404], signal });
      const res = await this.http.request({ ...spec, headers: { ...spec.headers, ...headers } });
      if (res.status === 404) throw new NotFoundError('image', id);
      // 409 (already active or not queued) comes out of the client as a ConflictError.
    } finally {
      // Whatever happened, the source (often another cloud's download) must not stay open.
      if (!data.readableEnded && !data.destroyed) data.destroy();
    }
  }

  /** `/v2/images/{id}/file` on the catalog's Glance endpoint, and the session's current token. */
  async imageDataAccess(id: string): Promise<{ url: string; token: string }> {
    const root = (await this.session.endpoint('image')).replace(/\/v2(\.\d+)?$/, '');
    return { url: `${root}/v2/images/${encodeURIComponent(id)}/file`, token: await this.session.token() };
  }

  private async spec(op: Omit<CallSpec, 'service' | 'url' | 'auth'> & { path: string }): Promise<CallSpec> {
    const { path, ...rest } = op;
    // Catalogs list Glance without a version (http://host:9292); tolerate one that includes it.
    const root = (await this.session.endpoint('image')).replace(/\/v2(\.\d+)?$/, '');
    return { ...rest, service: 'glance', url: `${root}${path}`, auth: this.session };
  }

  private async call(op: Omit<CallSpec, 'service' | 'url' | 'auth'> & { path: string }) {
    return this.http.request(await this.spec(op));
  }
}
