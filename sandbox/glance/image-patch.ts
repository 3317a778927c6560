/**
 * `PATCH /v2/images/{id}` with `application/openstack-images-v2.1-json-patch`: add / replace /
 * remove on core attributes and free-form properties, with Glance's status codes.
 */
import type { ImageRecord } from '../cloud/cloud.state';
import { OpenStackError } from '../http/openstack-error';
import { assertWritable, isCoreAttribute, setAttribute } from './image-attributes';

export const JSON_PATCH_TYPES = ['application/openstack-images-v2.1-json-patch', 'application/openstack-images-v2.0-json-patch'];

interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

function parseOps(body: unknown): PatchOp[] {
  if (!Array.isArray(body)) throw new OpenStackError(400, 'Request body must be a JSON array of operation objects.');
  return body.map((raw: unknown) => {
    const op = raw as Partial<PatchOp> | null;
    if (!op || typeof op !== 'object' || !['add', 'replace', 'remove'].includes(String(op.op)) || typeof op.path !== 'string') {
      throw new OpenStackError(400, 'Operations must be JSON objects with "op" of add, replace or remove and a "path".');
    }
    if (op.op !== 'remove' && !('value' in op)) throw new OpenStackError(400, `Operation "${op.op}" requires a member named "value".`);
    return op as PatchOp;
  });
}

/** JSON pointer with one segment: "/name", "/hw_disk_bus", "/a~1b" (= "a/b"). */
function keyOf(pointer: string): string {
  if (!/^\/[^/]+$/.test(pointer)) throw new OpenStackError(400, `Invalid JSON pointer for this resource: '${pointer}'`);
  return pointer.slice(1).replace(/~1/g, '/').replace(/~0/g, '~');
}

export function applyPatch(image: ImageRecord, body: unknown): void {
  // Work on a copy: Glance applies a patch all-or-nothing.
  const draft: ImageRecord = { ...image, properties: { ...image.properties }, tags: [...image.tags] };
  for (const op of parseOps(body)) {
    const key = keyOf(op.path);
    assertWritable(key);
    const exists = isCoreAttribute(key) || key in draft.properties;
    if (op.op === 'remove') {
      if (isCoreAttribute(key)) throw new OpenStackError(403, `Attribute '${key}' is required and cannot be removed.`);
      if (!exists) throw new OpenStackError(409, `Property ${key} does not exist.`);
      delete draft.properties[key];
      continue;
    }
    if (op.op === 'replace' && !exists) throw new OpenStackError(409, `Property ${key} does not exist.`);
    setAttribute(draft, key, op.value);
  }
  Object.assign(image, draft, { updatedAt: new Date() });
}
