/**
 * Image data: `PUT /v2/images/{id}/file` streams to disk through the emulated link and the
 * hashers; `GET /v2/images/{id}/file` streams back with Content-MD5 and Range support.
 * Neither ever holds an image in memory.
 */
import type { Response, Router } from 'express';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError } from '../http/openstack-error';
import { contentTypeIs } from '../http/content-type';
import { operation } from '../http/operation.middleware';
import { getAuth, getStreamFault, requestSignal } from '../http/request-context';
import { findImage, markActive } from './image.catalog';

class InjectedAbort extends Error {}

export function mountImageData(router: Router, cloud: CloudContext): void {
  router.put('/v2/images/:id/file', operation(cloud, 'glance.image.upload'), async (req, res) => {
    const image = findImage(cloud, req.params.id as string, getAuth(req));
    if (!contentTypeIs(req, 'application/octet-stream')) {
      throw new OpenStackError(415, `Content type ${req.get('content-type') ?? 'None'} not supported`);
    }
    if (image.status !== 'queued') {
      throw new OpenStackError(409, `Image status transition from ${image.status} to saving is not allowed`);
    }
    image.status = 'saving';
    image.updatedAt = new Date();
    // Captured now: once the pipeline destroys the request stream, req.socket is null.
    const socket = req.socket;
    const signal = requestSignal(req, res, cloud.tasks.signal);
    const fault = getStreamFault(req);
    try {
      const digest = await cloud.imageFiles.receive(image.id, req, {
        signal,
        through: [cloud.throttles.upload.stream(signal)],
        onProgress: (bytes) => {
          if (fault && bytes >= (fault.afterBytes ?? 0)) throw new InjectedAbort();
        },
      });
      if (!cloud.state.images.has(image.id)) {
        await cloud.imageFiles.remove(image.id);
        throw new OpenStackError(410, `Image ${image.id} could not be found after upload. The image may have been deleted during the upload.`);
      }
      markActive(cloud, image, digest);
      res.status(204).end();
    } catch (err) {
      // Like Glance after a broken upload: the image is usable again for a fresh PUT.
      if (image.status === 'saving') image.status = 'queued';
      if (err instanceof InjectedAbort || signal.aborted) {
        socket.destroy();
        return;
      }
      throw err;
    }
  });

  router.get('/v2/images/:id/file', operation(cloud, 'glance.image.download'), async (req, res) => {
    const image = findImage(cloud, req.params.id as string, getAuth(req));
    if (image.status === 'deactivated') throw new OpenStackError(403, 'The requested image has been deactivated. Image data download is forbidden.');
    if (image.status !== 'active' || image.size === null) {
      res.status(204).end();
      return;
    }
    const size = image.size;
    const range = parseRange(req.get('range'), size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      throw new OpenStackError(416, `Requested range not satisfiable`);
    }
    res.setHeader('Content-Type', 'application/octet-stream');
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.status(200);
      res.setHeader('Content-MD5', image.checksum ?? '');
      res.setHeader('Content-Length', String(size));
    }
    if (size === 0 || (range && range.end < range.start)) {
      res.end();
      return;
    }
    const signal = requestSignal(req, res, cloud.tasks.signal);
    const fault = getStreamFault(req);
    const stages = [cloud.imageFiles.read(image.id, range ?? undefined), cloud.throttles.download.stream(signal)];
    if (fault) stages.push(cutAfter(fault.afterBytes ?? 0, res));
    try {
      await pipeline([...stages, res], { signal });
    } catch {
      res.destroy(); // client went away, cloud stopping, or injected abort: the socket is closed either way
    }
  });
}

/** Single `bytes=a-b`, `bytes=a-` or `bytes=-n`; other forms are ignored (full content), as webob does. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (start >= size || end < start) return 'unsatisfiable';
  }
  return { start, end };
}

/** Passes `limit` bytes, then drops the connection (an injected mid-transfer failure). */
function cutAfter(limit: number, res: Response): Transform {
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      const room = limit - sent;
      if (room <= 0) {
        res.destroy();
        done(new Error('injected abort'));
        return;
      }
      sent += Math.min(room, chunk.length);
      done(null, chunk.length > room ? chunk.subarray(0, room) : chunk);
    },
  });
}

