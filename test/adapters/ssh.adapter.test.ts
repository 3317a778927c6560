/**
 * The SSH adapter against the peers' real sshd (scripts/peers): host keys pinned, key
 * authentication, argument vectors reaching the remote program literally, SFTP, timeouts, sudo -n.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { SshRemoteShell } from '../../src/adapters/ssh/ssh.remote-shell';
import { STRICT_ENDPOINT_POLICY } from '../../src/domain/endpoint-policy';
import { DomainError } from '../../src/domain/errors';
import type { RemoteSession, SshTarget } from '../../src/ports/remote-shell.port';
import { LAB_ENDPOINTS } from '../support/lab';
import { describeWithServicePeers } from '../support/service-peers';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

/** The error a promise rejects with (a test failure when it resolves). */
async function failure(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describeWithServicePeers('SSH adapter (ssh2) against the peers sshd', (peers) => {
  const shell = new SshRemoteShell({ policy: LAB_ENDPOINTS.policy });
  const [ed25519, ecdsa] = peers.ssh.hostKeys;
  const pinned = { algorithm: ed25519!.algorithm, fingerprint: ed25519!.fingerprint };
  const target = (over: Partial<SshTarget> = {}): SshTarget => ({
    host: '127.0.0.1',
    port: peers.ssh.port,
    username: 'root',
    privateKey: peers.ssh.clientKey.privateKey,
    expectedHostKey: pinned,
    ...over,
  });
  const open: RemoteSession[] = [];
  const connect = async (over: Partial<SshTarget> = {}): Promise<RemoteSession> => {
    const session = await shell.open(target(over), 30_000);
    open.push(session);
    return session;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  describe('host keys', () => {
    it('fetches the key the server presents, as ssh-keygen -lf prints it, from any loopback address', async () => {
      const key = await shell.fetchHostKey('127.0.0.77', peers.ssh.port, 30_000);
      expect(key).toEqual({ algorithm: 'ssh-ed25519', fingerprint: ed25519!.fingerprint });
      const printed = execFileSync('ssh-keygen', ['-lf', '-'], { input: `${ed25519!.publicKey}\n` }).toString().split(' ')[1];
      expect(key.fingerprint).toBe(printed);
    });

    it('connects when the server presents the pinned key, whichever of its keys is pinned', async () => {
      const session = await connect({ host: '127.0.3.4' });
      expect((await session.run(['id', '-un'], { timeoutMs: 30_000 })).stdout).toBe('root\n');
      const viaEcdsa = await connect({ expectedHostKey: { algorithm: ecdsa!.algorithm, fingerprint: ecdsa!.fingerprint } });
      expect((await viaEcdsa.run(['true'], { timeoutMs: 30_000 })).exitCode).toBe(0);
    });

    it('accepts a pin that is only a fingerprint (the hash covers the key type too)', async () => {
      const session = await connect({ expectedHostKey: { algorithm: '', fingerprint: ed25519!.fingerprint } });
      expect((await session.run(['true'], { timeoutMs: 30_000 })).exitCode).toBe(0);
      // The server presents its preferred key (Ed25519): the ECDSA fingerprint alone does not match it.
      const err = await failure(shell.open(target({ expectedHostKey: { algorithm: '', fingerprint: ecdsa!.fingerprint } }), 30_000));
      expect(err.details.reason).toBe('HOST_KEY_MISMATCH');
      expect(err.message).toContain(`is not the pinned ${ecdsa!.fingerprint};`);
    });

    it('refuses a server whose key is not the pinned one, naming both keys', async () => {
      const other = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
      const err = await failure(shell.open(target({ expectedHostKey: { algorithm: 'ssh-ed25519', fingerprint: other } }), 30_000));
      expect(err.details).toMatchObject({ reason: 'HOST_KEY_MISMATCH', retryable: false, server: `SSH root@127.0.0.1:${peers.ssh.port}` });
      expect(err.message).toBe(
        `SSH root@127.0.0.1:${peers.ssh.port}: the server's host key ssh-ed25519 ${ed25519!.fingerprint} is not the pinned ssh-ed25519 ${other}; refused before authenticating`,
      );
      // The ECDSA key's fingerprint pinned as if it were the Ed25519 key: a mismatch too.
      const swapped = await failure(shell.open(target({ expectedHostKey: { algorithm: 'ssh-ed25519', fingerprint: ecdsa!.fingerprint } }), 30_000));
      expect(swapped.details.reason).toBe('HOST_KEY_MISMATCH');
    });

    it('refuses a server that has no key of the pinned type', async () => {
      const err = await failure(shell.open(target({ expectedHostKey: { algorithm: 'ssh-rsa', fingerprint: ed25519!.fingerprint } }), 30_000));
      expect(err.details.reason).toBe('HOST_KEY_MISMATCH');
      expect(err.message).toContain('the server offers no ssh-rsa host key');
    });

    it.each([
      ['no key at all', undefined],
      ['an empty fingerprint', { algorithm: 'ssh-ed25519', fingerprint: '' }],
      ['a fingerprint that is not SHA256', { algorithm: 'ssh-ed25519', fingerprint: 'MD5:12:34' }],
      ['a key type it cannot check', { algorithm: 'ssh-dss', fingerprint: ed25519!.fingerprint }],
    ])('refuses to connect with %s pinned (no trust on the fly)', async (_, expectedHostKey) => {
      const err = await failure(shell.open(target({ expectedHostKey: expectedHostKey as SshTarget['expectedHostKey'] }), 30_000));
      expect(err.details).toMatchObject({ reason: 'HOST_KEY_MISSING', retryable: false });
      expect(err.message).toMatch(new RegExp(`^SSH root@127\\.0\\.0\\.1:${peers.ssh.port}: `));
    });
  });

  describe('authentication', () => {
    it('accepts the key forms a tenant uploads: OpenSSH, PEM RSA, and an encrypted key with its passphrase', async () => {
      for (const over of [
        { privateKey: peers.ssh.rsaPemKey.privateKey },
        { privateKey: peers.ssh.encryptedKey.privateKey, passphrase: peers.ssh.encryptedKey.passphrase },
      ]) {
        const session = await connect(over);
        expect((await session.run(['id', '-un'], { timeoutMs: 30_000 })).stdout).toBe('root\n');
      }
    });

    it('reports a key the server does not accept', async () => {
      const err = await failure(shell.open(target({ privateKey: peers.ssh.unauthorizedKey.privateKey }), 30_000));
      expect(err.details).toMatchObject({ reason: 'AUTH_REFUSED', retryable: false });
      expect(err.message).toBe(`SSH root@127.0.0.1:${peers.ssh.port}: the server refused the key (public key authentication failed)`);
    });

    it('reports an unusable key without repeating it', async () => {
      const malformed = '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n';
      for (const over of [
        { privateKey: malformed },
        { privateKey: peers.ssh.encryptedKey.privateKey },
        { privateKey: peers.ssh.encryptedKey.privateKey, passphrase: 'not the passphrase' },
      ]) {
        const err = await failure(shell.open(target(over), 30_000));
        expect(err.details).toMatchObject({ reason: 'BAD_KEY', retryable: false });
        expect(err.message).not.toContain('bm90IGEga2V5');
        expect(err.message).not.toContain(peers.ssh.encryptedKey.privateKey.split('\n')[1]);
        expect(JSON.stringify(err.details)).not.toContain('not the passphrase');
      }
    });
  });

  describe('connection failures', () => {
    it('says "no answer" when nothing listens, and keeps the cause for the log', async () => {
      const free = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(port));
        });
      });
      const err = await failure(shell.open(target({ port: free }), 30_000));
      expect(err.message).toBe(`SSH root@127.0.0.1:${free}: no answer (the connection failed, was cut or timed out; the broker's log has the cause)`);
      expect(err.details).toMatchObject({ reason: 'NO_ANSWER', retryable: true, detail: expect.stringContaining('ECONNREFUSED') });
    });

    it('gives up on a server that accepts but never speaks SSH, after the connect timeout', async () => {
      const sockets: net.Socket[] = [];
      const silent = net.createServer((s) => sockets.push(s));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = silent.address() as net.AddressInfo;
        const err = await failure(shell.open(target({ port }), 1_500));
        expect(err.details).toMatchObject({ reason: 'NO_ANSWER', retryable: true, detail: expect.stringMatching(/timed out/i) });
        const probe = await failure(shell.fetchHostKey('127.0.0.1', port, 1_500));
        expect(probe.details.reason).toBe('NO_ANSWER');
      } finally {
        sockets.forEach((s) => s.destroy());
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('applies the endpoint policy to the address it would dial', async () => {
      const strict = new SshRemoteShell({ policy: STRICT_ENDPOINT_POLICY });
      const err = await failure(strict.open(target({ host: 'localhost' }), 30_000));
      expect(err.details).toMatchObject({ reason: 'ENDPOINT_REFUSED', retryable: false });
      expect(err.message).toBe(
        `SSH root@localhost:${peers.ssh.port}: the host resolves to 127.0.0.1, which is loopback; integration endpoints may not be loopback, link-local, unspecified, multicast or broadcast addresses (CLOUD_ENDPOINT_ALLOW adds networks)`,
      );
      expect((await failure(strict.fetchHostKey('169.254.169.254', 22, 30_000))).details.reason).toBe('ENDPOINT_REFUSED');
    });
  });

  describe('commands', () => {
    const hostile = [
      'two words',
      "it's",
      '"double"',
      "'single'",
      '$(id -u)',
      '`id -u`',
      '${HOME}',
      '$HOME',
      'line one\nline two',
      'a; echo injected',
      'a && echo injected',
      'a | tee /tmp/x',
      '> /tmp/redirected',
      '*',
      '/e?c/*',
      '[a-z]*',
      '{a,b}',
      '~',
      '~root',
      '-n',
      '--help',
      '',
      ' ',
      '\t',
      'trailing\\',
      '!',
      '#not a comment',
      'VAR=value',
      'ünïcødé ✓ 日本語',
      "mixed 'single' \"double\" $(sub) `tick` \\back",
    ];

    it('passes hostile arguments to the remote program literally', async () => {
      const session = await connect();
      const result = await session.run(['printf', '%s\\n', ...hostile], { timeoutMs: 30_000 });
      expect(result).toEqual({ exitCode: 0, stdout: hostile.map((v) => `${v}\n`).join(''), stderr: '' });
    });

    it('never runs what an argument contains', async () => {
      const marker = `/tmp/intercloud-ssh-test-${randomBytes(6).toString('hex')}`;
      const session = await connect();
      for (const payload of [`$(touch ${marker})`, `\`touch ${marker}\``, `x; touch ${marker}`, `x\ntouch ${marker}`]) {
        expect((await session.run(['echo', payload], { timeoutMs: 30_000 })).stdout).toBe(`${payload}\n`);
      }
      // A hostile program name is a (missing) program, not a command line.
      const asProgram = await session.run([`true; touch ${marker}`], { timeoutMs: 30_000 });
      expect(asProgram.exitCode).toBe(127);
      expect(fs.existsSync(marker)).toBe(false);
    });

    it('hands over stdin and reports exit codes and stderr as results', async () => {
      const session = await connect();
      expect(await session.run(['cat'], { timeoutMs: 30_000, stdin: 'from stdin\n' })).toEqual({ exitCode: 0, stdout: 'from stdin\n', stderr: '' });
      const bytes = randomBytes(100_000);
      const sum = await session.run(['sha256sum'], { timeoutMs: 30_000, stdin: bytes });
      expect(sum.stdout.split(' ')[0]).toBe(require('node:crypto').createHash('sha256').update(bytes).digest('hex'));
      expect(await session.run(['sh', '-c', 'echo out; echo err >&2; exit 7'], { timeoutMs: 30_000 })).toEqual({ exitCode: 7, stdout: 'out\n', stderr: 'err\n' });
      // No stdin given: the command reads EOF at once rather than waiting.
      expect((await session.run(['cat'], { timeoutMs: 30_000 })).stdout).toBe('');
    });

    it('stops a command at its timeout, the remote side ends it too, and the session goes on', async () => {
      const session = await connect();
      const marker = String(4000 + Math.floor(Math.random() * 999));
      const err = await failure(session.run(['sleep', marker], { timeoutMs: 1_000 }));
      expect(err.details).toMatchObject({ reason: 'TIMEOUT', retryable: true });
      expect(err.message).toBe(`SSH root@127.0.0.1:${peers.ssh.port}: \`sleep\` did not finish within 1000 ms`);
      await waitFor(() => !running(`sleep ${marker}`), `the remote sleep ${marker} to be killed`, 30_000, 200);
      expect((await session.run(['echo', 'still here'], { timeoutMs: 30_000 })).stdout).toBe('still here\n');
    });

    it('refuses work on a session once it is closed', async () => {
      const session = await shell.open(target(), 30_000);
      await session.close();
      const err = await failure(session.run(['true'], { timeoutMs: 30_000 }));
      expect(err.message).toBe(`SSH root@127.0.0.1:${peers.ssh.port}: the session was closed`);
      expect((await failure(session.readFile('/etc/hostname'))).message).toContain('the session was closed');
    });

    it('runs under sudo -n when asked: root for the sudo account, an immediate refusal for one without', async () => {
      const withSudo = await connect({ username: peers.ssh.users.sudo });
      expect((await withSudo.run(['id', '-u'], { timeoutMs: 30_000, sudo: true })).stdout).toBe('0\n');
      expect((await withSudo.run(['id', '-un'], { timeoutMs: 30_000 })).stdout).toBe(`${peers.ssh.users.sudo}\n`);
      expect((await withSudo.run(['printf', '%s\\n', '-n', '$(id)'], { timeoutMs: 30_000, sudo: true })).stdout).toBe('-n\n$(id)\n');
      const without = await connect({ username: peers.ssh.users.plain });
      const refused = await without.run(['id', '-u'], { timeoutMs: 30_000, sudo: true });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toContain('a password is required');
    });
  });

  describe('files over SFTP', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync('/tmp/intercloud-sftp-');
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('writes atomically with the mode asked, reads back, overwrites, removes', async () => {
      const session = await connect();
      const file = `${dir}/we'ird $(name) ü.cfg`;
      await session.writeFile(file, 'first\n', 0o640);
      expect(fs.readFileSync(file, 'utf8')).toBe('first\n');
      expect(fs.statSync(file).mode & 0o777).toBe(0o640);
      expect((await session.readFile(file))?.toString()).toBe('first\n');
      const inode = fs.statSync(file).ino;
      await session.writeFile(file, Buffer.from('second\n'), 0o600);
      expect(fs.readFileSync(file, 'utf8')).toBe('second\n');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      // Replaced by a rename, not rewritten in place: a reader never sees half a file.
      expect(fs.statSync(file).ino).not.toBe(inode);
      expect(fs.readdirSync(dir)).toEqual([`we'ird $(name) ü.cfg`]);
      await session.removeFile(file);
      expect(fs.existsSync(file)).toBe(false);
      await session.removeFile(file);
      expect(await session.readFile(file)).toBeNull();
    });

    it('round-trips binary content of several chunks', async () => {
      const session = await connect();
      const bytes = randomBytes(300_000);
      await session.writeFile(`${dir}/blob.bin`, bytes, 0o644);
      expect(Buffer.compare((await session.readFile(`${dir}/blob.bin`))!, bytes)).toBe(0);
    });

    it('names the file and the cause when the server refuses', async () => {
      const session = await connect({ username: peers.ssh.users.plain });
      const err = await failure(session.writeFile('/root/intercloud-not-allowed.cfg', 'x', 0o644));
      expect(err.details).toMatchObject({ reason: 'OPERATION_FAILED', retryable: false });
      expect(err.message).toMatch(new RegExp(`^SSH ${peers.ssh.users.plain}@127\\.0\\.0\\.1:${peers.ssh.port}: SFTP writing /root/intercloud-not-allowed\\.cfg failed: permission denied`, 'i'));
      const asRoot = await connect();
      const missingDir = await failure(asRoot.writeFile(`${dir}/no/such/dir.cfg`, 'x', 0o644));
      expect(missingDir.message).toMatch(/no such file/i);
    });

    it('bounds a transfer by the transfer timeout, and the session goes on', async () => {
      const hurried = new SshRemoteShell({ policy: LAB_ENDPOINTS.policy, transferTimeoutMs: 1 });
      const session = await hurried.open(target(), 30_000);
      open.push(session);
      const err = await failure(session.writeFile(`${dir}/large.bin`, randomBytes(8 * 1024 * 1024), 0o644));
      expect(err.details).toMatchObject({ reason: 'TIMEOUT', retryable: true });
      expect(err.message).toMatch(/: (opening SFTP|writing \/tmp\/.*\/large\.bin) did not finish within 1 ms$/);
      expect((await session.run(['echo', 'ok'], { timeoutMs: 30_000 })).stdout).toBe('ok\n');
    });
  });
});

function running(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', `^${pattern}$`]);
    return true;
  } catch {
    return false;
  }
}
