/**
 * RemoteShell over npm ssh2: the endpoint policy on the address dialled, the server's host key
 * checked against the pinned one before any authentication, key authentication only.
 */
import type { Socket } from 'node:net';
import { Client, type ConnectConfig } from 'ssh2';
import type { EndpointPolicy } from '../../domain/endpoint-policy';
import type { HostKey, RemoteSession, RemoteShell, SshTarget } from '../../ports/remote-shell.port';
import { connectGuarded } from '../net/guarded-socket';
import { connectionError, errorText, integrationError } from '../net/integration-error';
import { describeHostKey, FINGERPRINT_PATTERN, hostKeyOf } from './host-key';
import { SshSession } from './ssh.session';

export interface SshRemoteShellOptions {
  policy: EndpointPolicy;
  /** Bounds each SFTP transfer of a session (writeFile, readFile, removeFile); default 60 s. */
  transferTimeoutMs?: number;
  /**
   * Run every command under the remote `timeout` (coreutils), so a command past its timeout is
   * stopped on the server too (default true; false for a server without `timeout`, where such a
   * command lingers until it ends by itself).
   */
  killRemoteOnTimeout?: boolean;
}

/** Host key types ssh2 can verify, each with the signature algorithms that prove it. */
const SIGNATURES: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export function describeTarget(target: Pick<SshTarget, 'host' | 'port' | 'username'>): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `SSH ${target.username}@${host}:${target.port}`;
}

/**
 * Why a pinned key cannot be used, or null. A pin may lack its type (only a fingerprint was
 * recorded): the fingerprint hashes the whole key blob, type included, so it alone still
 * identifies the key; the server then presents its preferred key, which must be that one.
 */
function unusableHostKey(key: HostKey | undefined | null): string | null {
  if (!key || !key.fingerprint) return 'no host key is pinned for it (record the server\'s key before connecting: nothing is trusted silently)';
  if (!FINGERPRINT_PATTERN.test(key.fingerprint)) return `the pinned host key fingerprint "${key.fingerprint.slice(0, 80)}" is not SHA256:<43 base64 characters>`;
  if (key.algorithm && !SIGNATURES[key.algorithm]) return `the pinned host key type "${key.algorithm.slice(0, 40)}" is not one the broker can check (${Object.keys(SIGNATURES).join(', ')})`;
  return null;
}

function matches(presented: HostKey, pinned: HostKey): boolean {
  return presented.fingerprint === pinned.fingerprint && (!pinned.algorithm || presented.algorithm === pinned.algorithm);
}

/** ssh2's client-side errors by their `level`, as our reasons. */
function handshakeError(server: string, err: Error & { level?: string }, presented: HostKey | null, expected: HostKey) {
  if (presented && !matches(presented, expected)) {
    return integrationError(
      server,
      'HOST_KEY_MISMATCH',
      `the server's host key ${describeHostKey(presented)} is not the pinned ${expected.algorithm ? describeHostKey(expected) : expected.fingerprint}; refused before authenticating`,
      { cause: err },
    );
  }
  if (/no matching host key format/i.test(err.message)) {
    return integrationError(server, 'HOST_KEY_MISMATCH', `the server offers no ${expected.algorithm} host key (the pinned ${describeHostKey(expected)}); refused before authenticating`, { cause: err });
  }
  if (err.level === 'client-authentication') {
    return integrationError(server, 'AUTH_REFUSED', 'the server refused the key (public key authentication failed)', { detail: errorText(err), cause: err });
  }
  return connectionError(server, err);
}

export class SshRemoteShell implements RemoteShell {
  private readonly transferTimeoutMs: number;

  constructor(private readonly options: SshRemoteShellOptions) {
    this.transferTimeoutMs = options.transferTimeoutMs ?? 60_000;
  }

  async fetchHostKey(host: string, port: number, timeoutMs: number): Promise<HostKey> {
    const server = `SSH ${host.includes(':') ? `[${host}]` : host}:${port}`;
    const sock = await this.dial(server, host, port, timeoutMs);
    const seen: { key: HostKey | null } = { key: null };
    const client = new Client();
    try {
      await new Promise<void>((resolve, reject) => {
        client.on('error', (err) => (seen.key ? resolve() : reject(err)));
        client.on('close', () => (seen.key ? resolve() : reject(Object.assign(new Error('closed before the key exchange'), { code: 'ECONNRESET' }))));
        client.connect({
          sock,
          username: 'intercloud-host-key-probe',
          readyTimeout: timeoutMs,
          // Refusing every key ends the handshake before any authentication: all we wanted is the key.
          hostVerifier: (key: Buffer) => {
            seen.key = hostKeyOf(key);
            return false;
          },
        });
      });
    } catch (err) {
      throw connectionError(server, err);
    } finally {
      client.end();
      sock.destroy();
    }
    return seen.key!;
  }

  async open(target: SshTarget, connectTimeoutMs: number): Promise<RemoteSession> {
    const server = describeTarget(target);
    const unusable = unusableHostKey(target.expectedHostKey);
    if (unusable) throw integrationError(server, 'HOST_KEY_MISSING', unusable);
    const expected = target.expectedHostKey;
    const deadline = Date.now() + connectTimeoutMs;
    const sock = await this.dial(server, target.host, target.port, connectTimeoutMs);
    const client = new Client();
    const seen: { key: HostKey | null } = { key: null };
    const config: ConnectConfig = {
      sock,
      username: target.username,
      privateKey: target.privateKey,
      ...(target.passphrase ? { passphrase: target.passphrase } : {}),
      readyTimeout: Math.max(1, deadline - Date.now()),
      // Key authentication only: no agent, no password, no keyboard-interactive.
      tryKeyboard: false,
      // Ask for the pinned key's type, so a server with several host keys presents that one.
      ...(expected.algorithm ? { algorithms: { serverHostKey: SIGNATURES[expected.algorithm] as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } } : {}),
      hostVerifier: (key: Buffer) => matches((seen.key = hostKeyOf(key)), expected),
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
    };
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('error', reject);
        client.once('close', () => reject(Object.assign(new Error('the connection closed during the handshake'), { code: 'ECONNRESET' })));
        try {
          client.connect(config);
        } catch (err) {
          // ssh2 parses the private key synchronously; its message names the problem, never the key.
          reject(Object.assign(err as Error, { level: 'private-key' }));
        }
      });
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end();
      sock.destroy();
      const e = err as Error & { level?: string };
      if (e.level === 'private-key') throw integrationError(server, 'BAD_KEY', `the private key cannot be used: ${e.message.replace(/\s+/g, ' ').slice(0, 200)}`);
      throw handshakeError(server, e, seen.key, expected);
    }
    client.removeAllListeners();
    return new SshSession(client, server, this.transferTimeoutMs, this.options.killRemoteOnTimeout ?? true);
  }

  private async dial(server: string, host: string, port: number, timeoutMs: number): Promise<Socket> {
    try {
      return await connectGuarded(host, port, { policy: this.options.policy, subject: 'integration endpoints', timeoutMs });
    } catch (err) {
      throw connectionError(server, err);
    }
  }
}
