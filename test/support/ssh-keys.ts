/** Real SSH key pairs made by OpenSSH's ssh-keygen, for tests of what the broker parses and pins. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface KeyPair {
  privateKey: string;
  /** The `.pub` line, `<type> <base64> <comment>`. */
  publicKey: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** Files, for an sshd's HostKey or AuthorizedKeysFile. */
  privateKeyFile: string;
  publicKeyFile: string;
}

/** `type` ed25519, ecdsa or rsa; `format` PEM for the old PEM encoding (RSA/ECDSA only). */
export function keyPair(dir: string, name: string, o: { type?: 'ed25519' | 'ecdsa' | 'rsa'; passphrase?: string; format?: 'PEM'; comment?: string } = {}): KeyPair {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  const args = ['-q', '-t', o.type ?? 'ed25519', '-N', o.passphrase ?? '', '-C', o.comment ?? `${name}@test`, '-f', file];
  if (o.type === 'rsa') args.push('-b', '2048');
  if (o.format) args.push('-m', o.format);
  execFileSync('ssh-keygen', args);
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1];
  return { privateKey: fs.readFileSync(file, 'utf8'), publicKey: fs.readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint, privateKeyFile: file, publicKeyFile: `${file}.pub` };
}

export function tempKeyDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `intercloud-${prefix}-`));
}
