/**
 * Media-type check on the header itself: Express's `req.is()` answers null for bodiless
 * requests, which would turn a 0-byte image upload into a 415.
 */
import type { Request } from 'express';

export function contentTypeIs(req: Request, ...types: string[]): boolean {
  const header = req.get('content-type');
  if (!header) return false;
  const mediaType = header.split(';')[0]!.trim().toLowerCase();
  return types.includes(mediaType);
}
