/** Input validation with zod: the first broken rule becomes a BadUserInputError naming its field
 * (`root` is the argument name, or empty when the schema covers several arguments). */
import { z } from 'zod';
import { BadUserInputError } from '../domain/errors';
import { PAGE_SIZE } from '../domain/page-size';

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = [root, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  throw new BadUserInputError(field, issue.message);
}

/** Names of things people type and read: clouds, VM types, policies, tokens, tenants. */
export const nameRule = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._:-]*$/, 'must start with a letter or digit and use only letters, digits, space, . _ : -');

export const labelRule = z.object({
  key: z
    .string()
    .min(1, 'must not be empty')
    .max(63, 'must be at most 63 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'must be letters, digits, . _ / - and start with a letter or digit'),
  value: z.string().max(255, 'must be at most 255 characters'),
});

export const labelsRule = z
  .array(labelRule)
  .max(64, 'at most 64 labels')
  .refine((labels) => new Set(labels.map((l) => l.key)).size === labels.length, 'label keys must be unique');

export const uuidRule = z.string().uuid('must be an id returned by this API');

/** A list argument `first`: the same range the API declares and checks before running anything. */
export const pageSizeRule = (defaultValue: number) =>
  z.number().int().min(PAGE_SIZE.min, `must be at least ${PAGE_SIZE.min}`).max(PAGE_SIZE.max, `must be at most ${PAGE_SIZE.max}`).default(defaultValue);
