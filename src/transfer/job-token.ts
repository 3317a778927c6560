/**
 * Per-job tokens the broker signs for transfer agents: HMAC-SHA256 over a small JSON claim set,
 * with the key both hold (AGENT_SHARED_SECRET). A token names one job, one tenant's store in one
 * cloud, one role, the exact URLs that role may call (the job's Glance image data URLs and, for a
 * source, the target agent), and an expiry of minutes, so an agent holds no long-term credential
 * and a leaked token opens nothing else.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type AgentRole = 'source' | 'target';

export interface JobTokenClaims {
  jobId: string;
  tenantId: string;
  /** The cloud whose chunk store (target) or image (source) the job touches. */
  cloudId: string;
  role: AgentRole;
  /** URLs the agent may call for this job, compared exactly. */
  urls: string[];
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export class JobTokenError extends Error {}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const mac = (secret: string, payload: string) => createHmac('sha256', secret).update(`intercloud-agent-v1.${payload}`).digest();

export function signJobToken(secret: string, claims: JobTokenClaims): string {
  const payload = b64(JSON.stringify(claims));
  return `v1.${payload}.${b64(mac(secret, payload))}`;
}

/** The claims of a token signed with `secret` for `role` and not expired; JobTokenError otherwise. */
export function verifyJobToken(secret: string, token: string, role: AgentRole, now = Date.now()): JobTokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 'v1') throw new JobTokenError('malformed job token');
  const given = Buffer.from(parts[2], 'base64url');
  const expected = mac(secret, parts[1]);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new JobTokenError('job token signature does not verify');
  let claims: JobTokenClaims;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as JobTokenClaims;
  } catch {
    throw new JobTokenError('malformed job token');
  }
  if (claims.role !== role) throw new JobTokenError(`job token is for the ${String(claims.role)} side, not the ${role} side`);
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < now) throw new JobTokenError('job token expired');
  if (!Array.isArray(claims.urls) || typeof claims.jobId !== 'string' || typeof claims.tenantId !== 'string' || typeof claims.cloudId !== 'string') {
    throw new JobTokenError('malformed job token');
  }
  return claims;
}

/** Whether a token's scope lets its holder call `url`. */
export function tokenAllows(claims: JobTokenClaims, url: string): boolean {
  return claims.urls.includes(url);
}
