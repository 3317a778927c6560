/** API token secrets: 256 random bits, stored only as SHA-256 (high entropy makes a slow hash unnecessary). */
import crypto from 'node:crypto';

export const TOKEN_PREFIX = 'icb_';

export function newTokenSecret(): string {
  return TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
}

export function hashTokenSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}
