/**
 * RemoteShell.fetchHostKey on ssh2: the host key a server presents in the key exchange, read
 * without authenticating (the verifier refuses the key once it has seen it, so no credentials are
 * ever sent). Self-contained so the RemoteShell adapter of src/adapters/ssh can delegate to it.
 * Which address may be reached is the caller's rule; this only connects where it is told.
 */
import { Client } from 'ssh2';
import { UpstreamUnavailableError } from '../../domain/errors';
import { algorithmOfBlob, fingerprintOf } from '../../domain/ssh-keys';
import { HostKey, RemoteShell } from '../../ports/remote-shell.port';

export class Ssh2HostKeyFetcher implements Pick<RemoteShell, 'fetchHostKey'> {
  fetchHostKey(host: string, port: number, timeoutMs: number): Promise<HostKey> {
    return new Promise<HostKey>((resolve, reject) => {
      const client = new Client();
      let seen: HostKey | null = null;
      let settled = false;
      const finish = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.end();
        if (seen) resolve(seen);
        else reject(err ?? new Error('no host key'));
      };
      // ssh2's readyTimeout covers the whole handshake; this also covers a TCP connect that hangs.
      const timer = setTimeout(() => finish(failure(host, port, `no host key within ${timeoutMs} ms`)), timeoutMs);
      client.on('error', (err) => finish(seen ? null : failure(host, port, describe(err))));
      client.on('close', () => finish(seen ? null : failure(host, port, 'the connection closed before the key exchange')));
      client.connect({
        host,
        port,
        username: 'intercloud-host-key-probe',
        readyTimeout: timeoutMs,
        keepaliveInterval: 0,
        hostVerifier: (key: Buffer) => {
          const algorithm = algorithmOfBlob(key);
          if (algorithm) seen = { algorithm, fingerprint: fingerprintOf(key) };
          // Refusing the key ends the handshake before any authentication.
          setImmediate(() => finish(seen ? null : failure(host, port, 'the server presented a malformed host key')));
          return false;
        },
      });
    });
  }
}

function failure(host: string, port: number, cause: string): UpstreamUnavailableError {
  return new UpstreamUnavailableError(`could not read the SSH host key of ${host}:${port}: ${cause}`, { host, port, retryable: true });
}

function describe(err: Error & { code?: string; level?: string }): string {
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ETIMEDOUT' || /timed out/i.test(err.message)) return 'timed out';
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') return 'host unreachable';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (err.code === 'ECONNRESET') return 'connection reset';
  // ssh2's own errors (protocol, handshake) are short and carry no secrets.
  return err.message.slice(0, 200);
}
