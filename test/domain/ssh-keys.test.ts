/** Private keys and pinned host keys, parsed from keys that OpenSSH's ssh-keygen made. */
import fs from 'node:fs';
import { algorithmOfBlob, parseHostKey, parsePrivateKey, SshKeyError } from '../../src/domain/ssh-keys';
import { keyPair, tempKeyDir } from '../support/ssh-keys';

function sshKeyError(fn: () => unknown): SshKeyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SshKeyError) return err;
    throw err;
  }
  throw new Error('expected an SshKeyError');
}

describe('SSH keys', () => {
  const dir = tempKeyDir('keys');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['ed25519', undefined, undefined, 'ssh-ed25519'],
    ['ecdsa', 'secret-pass', undefined, 'ecdsa-sha2-nistp256'],
    ['rsa', undefined, 'PEM', 'ssh-rsa'],
    ['rsa', 'secret-pass', 'PEM', 'ssh-rsa'],
  ] as const)('parses a %s key (passphrase %s, format %s) and derives what ssh-keygen derives', (type, passphrase, format, algorithm) => {
    const pair = keyPair(dir, `k-${type}-${passphrase ?? 'plain'}-${format ?? 'openssh'}`, { type, passphrase, format });
    const parsed = parsePrivateKey(pair.privateKey, passphrase);
    expect(parsed.algorithm).toBe(algorithm);
    expect(parsed.fingerprint).toBe(pair.fingerprint);
    expect(parsed.encrypted).toBe(passphrase !== undefined);
    // The public key is what ssh-keygen wrote into the .pub file, up to the comment PEM keys do not carry.
    expect(parsed.publicKey.split(' ').slice(0, 2)).toEqual(pair.publicKey.split(' ').slice(0, 2));
  });

  it('says a passphrase given with an unencrypted key is not needed', () => {
    const pair = keyPair(dir, 'plain', {});
    expect(parsePrivateKey(pair.privateKey, 'unneeded').encrypted).toBe(false);
  });

  it('puts a missing or wrong passphrase on passphrase, and a malformed key on privateKey', () => {
    const pair = keyPair(dir, 'locked', { type: 'ecdsa', passphrase: 'right-pass' });
    expect(sshKeyError(() => parsePrivateKey(pair.privateKey, null))).toMatchObject({ field: 'passphrase', rule: expect.stringContaining('required') });
    expect(sshKeyError(() => parsePrivateKey(pair.privateKey, 'wrong-pass'))).toMatchObject({ field: 'passphrase', rule: expect.stringContaining('does not decrypt') });
    expect(sshKeyError(() => parsePrivateKey('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n', null)).field).toBe('privateKey');
    expect(sshKeyError(() => parsePrivateKey('not a key', null)).field).toBe('privateKey');
    expect(sshKeyError(() => parsePrivateKey(pair.publicKey, null))).toMatchObject({ field: 'privateKey', rule: expect.stringContaining('not a public one') });
  });

  it('pins a host key from its public key line or its SHA256 fingerprint', () => {
    const host = keyPair(dir, 'host', { comment: 'root@sip-1 with spaces' });
    expect(parseHostKey(host.publicKey)).toEqual({ algorithm: 'ssh-ed25519', fingerprint: host.fingerprint });
    expect(parseHostKey(`  ${host.fingerprint}\n`)).toEqual({ algorithm: null, fingerprint: host.fingerprint });
    const rsa = keyPair(dir, 'host-rsa', { type: 'rsa' });
    expect(parseHostKey(rsa.publicKey)).toEqual({ algorithm: 'ssh-rsa', fingerprint: rsa.fingerprint });
  });

  it.each([
    ['', 'must not be empty'],
    ['SHA256:short', 'SHA256: followed by 43'],
    ['SHA256:lLIELZX6+EsXwDC7EkuwH4v1x+ql0wml8YA41VDr0N!', 'SHA256: followed by 43'],
    ['MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48', 'one OpenSSH public key line'],
    ['ssh-ed25519 AAAAnotbase64!!', 'not an OpenSSH public key'],
    ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP\nssh-rsa AAAA', 'one OpenSSH public key line'],
  ])('refuses %j as a host key', (text, rule) => {
    expect(sshKeyError(() => parseHostKey(text))).toMatchObject({ field: 'key', rule: expect.stringContaining(rule) });
  });

  it('refuses a public key line whose type does not match its blob, and a private key', () => {
    const host = keyPair(dir, 'mismatch', {});
    const [, blob] = host.publicKey.split(' ');
    expect(sshKeyError(() => parseHostKey(`ssh-rsa ${blob}`)).field).toBe('key');
    expect(sshKeyError(() => parseHostKey(host.privateKey)).field).toBe('key');
  });

  it('reads the algorithm a key blob starts with', () => {
    const host = keyPair(dir, 'blob', {});
    expect(algorithmOfBlob(Buffer.from(host.publicKey.split(' ')[1], 'base64'))).toBe('ssh-ed25519');
    expect(algorithmOfBlob(Buffer.from([0, 0, 0, 200, 1]))).toBeNull();
  });
});
