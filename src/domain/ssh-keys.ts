/**
 * SSH key material as the broker understands it: private keys it stores for a tenant (OpenSSH or
 * PEM, parsed with ssh2's key parser) and the host keys it pins (an OpenSSH public key line or a
 * `SHA256:` fingerprint). Pure: parsing and hashing, no connections.
 */
import crypto from 'node:crypto';
import { utils } from 'ssh2';

/** A pinned host key: the SHA256 fingerprint of the key blob and, when known, its algorithm. */
export interface PinnedHostKey {
  /** e.g. ssh-ed25519; null when only a fingerprint was given. */
  algorithm: string | null;
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

export interface ParsedPrivateKey {
  algorithm: string;
  /** `<algorithm> <base64 blob>[ <comment>]`, for authorized_keys. */
  publicKey: string;
  fingerprint: string;
  /** Whether the key needs its passphrase (false: a passphrase given with it is not needed). */
  encrypted: boolean;
}

/** Which input is at fault, and the rule it breaks. */
export class SshKeyError extends Error {
  constructor(
    readonly field: 'privateKey' | 'passphrase' | 'key',
    readonly rule: string,
  ) {
    super(rule);
    this.name = 'SshKeyError';
  }
}

/** `SHA256:` and the unpadded base64 of the blob's SHA-256, as OpenSSH prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name an SSH public key blob starts with (its first string), or null. */
export function algorithmOfBlob(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length < 1 || length > 64 || blob.length < 4 + length) return null;
  const name = blob.subarray(4, 4 + length).toString('latin1');
  return /^[a-z0-9@.-]+$/.test(name) ? name : null;
}

const MAX_KEY_CHARS = 16_384;

type Parsed = Exclude<ReturnType<typeof utils.parseKey>, Error>;

function first(parsed: Parsed | Parsed[]): Parsed {
  return Array.isArray(parsed) ? parsed[0] : parsed;
}

/**
 * Parses a private key, decrypting it with `passphrase` when it is encrypted. A malformed key is
 * an error on `privateKey`; a missing or wrong passphrase an error on `passphrase`.
 */
export function parsePrivateKey(text: string, passphrase: string | null | undefined): ParsedPrivateKey {
  if (text.length > MAX_KEY_CHARS) throw new SshKeyError('privateKey', `must be at most ${MAX_KEY_CHARS} characters`);
  const plain = utils.parseKey(text);
  let key: Parsed;
  let encrypted = false;
  if (!(plain instanceof Error)) {
    key = first(plain);
  } else if (/passphrase/i.test(plain.message)) {
    encrypted = true;
    if (!passphrase) throw new SshKeyError('passphrase', 'is required: the private key is encrypted');
    const opened = utils.parseKey(text, passphrase);
    if (opened instanceof Error) {
      // ssh2 cannot tell a wrong passphrase from a damaged encrypted key; either way the pair does not open.
      throw new SshKeyError('passphrase', 'does not decrypt the private key (wrong passphrase, or a damaged key)');
    }
    key = first(opened);
  } else {
    throw new SshKeyError('privateKey', 'must be an OpenSSH or PEM private key (RSA, ECDSA or Ed25519)');
  }
  if (!key || !key.isPrivateKey()) throw new SshKeyError('privateKey', 'must be a private key, not a public one');
  const blob = key.getPublicSSH();
  const comment = key.comment && !/[\u0000-\u001f\u007f]/.test(key.comment) ? ` ${key.comment.slice(0, 255)}` : '';
  return { algorithm: key.type, publicKey: `${key.type} ${blob.toString('base64')}${comment}`, fingerprint: fingerprintOf(blob), encrypted };
}

const FINGERPRINT = /^SHA256:([A-Za-z0-9+/]{43})=?$/;

/**
 * A host key to pin: an OpenSSH public key line (`ssh-ed25519 AAAA... comment`) or its
 * `SHA256:` fingerprint. Throws SshKeyError on `key` otherwise.
 */
export function parseHostKey(text: string): PinnedHostKey {
  const value = text.trim();
  if (value.length === 0) throw new SshKeyError('key', 'must not be empty');
  if (value.length > MAX_KEY_CHARS) throw new SshKeyError('key', `must be at most ${MAX_KEY_CHARS} characters`);
  if (value.startsWith('SHA256:')) {
    const match = FINGERPRINT.exec(value);
    if (!match || Buffer.from(match[1], 'base64').length !== 32) {
      throw new SshKeyError('key', 'must be SHA256: followed by 43 base64 characters, as ssh-keygen -lf prints it');
    }
    return { algorithm: null, fingerprint: `SHA256:${match[1]}` };
  }
  const fields = value.split(/\s+/);
  if (fields.length < 2 || value.includes('\n')) {
    throw new SshKeyError('key', 'must be one OpenSSH public key line (e.g. ssh-ed25519 AAAA... comment) or a SHA256: fingerprint');
  }
  const parsed = utils.parseKey(`${fields[0]} ${fields[1]}`);
  if (parsed instanceof Error) throw new SshKeyError('key', `is not an OpenSSH public key: ${parsed.message}`);
  const key = first(parsed);
  if (!key || key.isPrivateKey()) throw new SshKeyError('key', 'must be a public key, never a private one');
  const blob = key.getPublicSSH();
  const algorithm = algorithmOfBlob(blob);
  if (algorithm !== fields[0]) throw new SshKeyError('key', `names ${fields[0]} but holds a ${algorithm ?? 'malformed'} key`);
  return { algorithm, fingerprint: fingerprintOf(blob) };
}
