/**
 * `GET /v2/schemas/image`: glanceclient reads it to know which attributes are core; this is a
 * trimmed form of Glance's schema with the same property names and types.
 */
import { CONTAINER_FORMATS, DISK_FORMATS } from './image-attributes';

export function imageSchemaView(): unknown {
  const str = { type: 'string' };
  const nullableStr = { type: ['null', 'string'] };
  const readOnly = (schema: Record<string, unknown>): Record<string, unknown> => ({ ...schema, readOnly: true });
  return {
    name: 'image',
    additionalProperties: { type: 'string' },
    links: [
      { href: '{self}', rel: 'self' },
      { href: '{file}', rel: 'enclosure' },
      { href: '{schema}', rel: 'describedby' },
    ],
    properties: {
      id: { type: 'string', pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$' },
      name: { type: ['null', 'string'], maxLength: 255 },
      status: readOnly({ type: 'string', enum: ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'] }),
      visibility: { type: 'string', enum: ['community', 'public', 'private', 'shared'] },
      protected: { type: 'boolean' },
      os_hidden: { type: 'boolean' },
      checksum: readOnly({ ...nullableStr, maxLength: 32 }),
      os_hash_algo: readOnly({ ...nullableStr, maxLength: 64 }),
      os_hash_value: readOnly({ ...nullableStr, maxLength: 128 }),
      owner: { ...nullableStr, maxLength: 255 },
      size: readOnly({ type: ['null', 'integer'] }),
      virtual_size: readOnly({ type: ['null', 'integer'] }),
      container_format: { type: ['null', 'string'], enum: [null, ...CONTAINER_FORMATS] },
      disk_format: { type: ['null', 'string'], enum: [null, ...DISK_FORMATS] },
      created_at: readOnly(str),
      updated_at: readOnly(str),
      tags: { type: 'array', items: { type: 'string', maxLength: 255 } },
      min_ram: { type: 'integer' },
      min_disk: { type: 'integer' },
      self: readOnly(str),
      file: readOnly(str),
      schema: readOnly(str),
      direct_url: readOnly(str),
      locations: { type: 'array', items: { type: 'object' } },
      stores: readOnly(str),
    },
  };
}
