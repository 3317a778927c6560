/**
 * SSH host keys as `ssh-keygen -lf` names them: the key type from the key blob and
 * `SHA256:<base64 of the blob's SHA-256, without padding>`.
 */
import { createHash } from 'node:crypto';
import type { HostKey } from '../../ports/remote-shell.port';

/** What a pinned fingerprint must look like: SHA256 and 43 base64 characters (32 bytes, unpadded). */
export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type at the start of the blob (an SSH string: uint32 length, then the name). */
export function algorithmOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return 'unknown';
  return blob.subarray(4, 4 + length).toString('latin1');
}

export function hostKeyOf(blob: Buffer): HostKey {
  return { algorithm: algorithmOf(blob), fingerprint: fingerprintOf(blob) };
}

/**
 * A host key from an OpenSSH public key line (`ssh-ed25519 AAAA... comment`, as in a
 * known_hosts entry or `/etc/ssh/ssh_host_ed25519_key.pub`), or null when it is not one.
 */
export function hostKeyFromPublicKey(line: string): HostKey | null {
  const parts = line.trim().split(/\s+/);
  const [type, data] = parts.length >= 2 && /^[a-z0-9@.-]+$/.test(parts[0]!) ? [parts[0]!, parts[1]!] : [null, null];
  if (!type || !data || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return null;
  const blob = Buffer.from(data, 'base64');
  const key = hostKeyOf(blob);
  return key.algorithm === type ? key : null;
}

export function describeHostKey(key: HostKey): string {
  return `${key.algorithm} ${key.fingerprint}`;
}
