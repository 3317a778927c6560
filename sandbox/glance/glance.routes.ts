/** Glance v2 subset: version discovery, image CRUD, JSON-patch updates, tags, image data. */
import express, { type Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError, serviceErrorHandler } from '../http/openstack-error';
import { contentTypeIs } from '../http/content-type';
import { operation } from '../http/operation.middleware';
import { requireToken } from '../http/auth.middleware';
import { getAuth } from '../http/request-context';
import { createImage, deleteImage, findImage, isVisible } from './image.catalog';
import { mountImageData } from './image-data.routes';
import { listImages } from './image-list';
import { JSON_PATCH_TYPES, applyPatch } from './image-patch';
import { imageView } from './image.view';
import { imageSchemaView } from './image-schema.view';

/** Glance Zed advertises every v2 minor it speaks, newest first. */
const VERSIONS = ['2.16', '2.15', '2.14', '2.13', '2.12', '2.11', '2.10', '2.9', '2.8', '2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];

export function glanceRouter(cloud: CloudContext): Router {
  const router = express.Router();
  const versions = (): unknown => ({
    versions: VERSIONS.map((v, i) => ({
      id: `v${v}`,
      status: i === 0 ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href: `${cloud.urls.image}/v2/` }],
    })),
  });
  router.get('/', operation(cloud, 'glance.discovery'), (_req, res) => void res.status(300).json(versions()));
  router.get('/versions', operation(cloud, 'glance.discovery'), (_req, res) => void res.json(versions()));

  // Image data must see the raw request stream: mounted before any body parser.
  router.use('/v2', requireToken(cloud));
  mountImageData(router, cloud);
  router.use(express.json({ limit: '1mb', type: ['application/json', ...JSON_PATCH_TYPES] }));

  router.get('/v2/schemas/image', operation(cloud, 'glance.schema'), (_req, res) => void res.json(imageSchemaView()));

  router.get('/v2/images', operation(cloud, 'glance.image.list'), (req, res) => {
    const auth = getAuth(req);
    const page = listImages(req, [...cloud.state.images.values()].filter((i) => isVisible(i, auth)));
    const body: Record<string, unknown> = { images: page.images.map(imageView), first: '/v2/images', schema: '/v2/schemas/images' };
    if (page.nextMarker) body.next = `/v2/images?marker=${page.nextMarker}&limit=${page.limit}`;
    res.json(body);
  });

  router.post('/v2/images', operation(cloud, 'glance.image.create'), (req, res) => {
    if (!contentTypeIs(req, 'application/json')) throw new OpenStackError(415, `Content type ${req.get('content-type') ?? 'None'} not supported`);
    const image = createImage(cloud, getAuth(req).projectId, req.body);
    res.setHeader('Location', `${cloud.urls.image}/v2/images/${image.id}`);
    res.status(201).json(imageView(image));
  });

  router.get('/v2/images/:id', operation(cloud, 'glance.image.show'), (req, res) => {
    res.json(imageView(findImage(cloud, req.params.id as string, getAuth(req))));
  });

  router.patch('/v2/images/:id', operation(cloud, 'glance.image.update'), (req, res) => {
    const image = findImage(cloud, req.params.id as string, getAuth(req));
    if (!contentTypeIs(req, ...JSON_PATCH_TYPES)) {
      throw new OpenStackError(415, `Content type ${req.get('content-type') ?? 'None'} not supported`);
    }
    applyPatch(image, req.body);
    res.json(imageView(image));
  });

  router.delete('/v2/images/:id', operation(cloud, 'glance.image.delete'), async (req, res) => {
    await deleteImage(cloud, findImage(cloud, req.params.id as string, getAuth(req)));
    res.status(204).end();
  });

  router.put('/v2/images/:id/tags/:tag', operation(cloud, 'glance.image.tag'), (req, res) => {
    const image = findImage(cloud, req.params.id as string, getAuth(req));
    const tag = req.params.tag as string;
    if (!image.tags.includes(tag)) image.tags.push(tag);
    image.updatedAt = new Date();
    res.status(204).end();
  });
  router.delete('/v2/images/:id/tags/:tag', operation(cloud, 'glance.image.tag'), (req, res) => {
    const image = findImage(cloud, req.params.id as string, getAuth(req));
    const tag = req.params.tag as string;
    if (!image.tags.includes(tag)) throw new OpenStackError(404, `Tag ${tag} not found`);
    image.tags = image.tags.filter((t) => t !== tag);
    image.updatedAt = new Date();
    res.status(204).end();
  });

  router.use((_req, _res, next) => next(new OpenStackError(404, 'The resource could not be found.')));
  router.use(serviceErrorHandler('glance', cloud.log));
  return router;
}
