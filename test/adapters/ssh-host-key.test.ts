/** Reading a server's SSH host key without authenticating (what importVm pins), against a real OpenSSH server. */
import net from 'node:net';
import { SshRemoteShell } from '../../src/adapters/ssh/ssh.remote-shell';
import { LAB_ENDPOINTS } from '../support/lab';
import { freePort, startSshd, Sshd } from '../support/sshd';

describe('SshRemoteShell.fetchHostKey', () => {
  const fetcher = new SshRemoteShell({ policy: LAB_ENDPOINTS.policy });
  let ed25519: Sshd;
  let rsa: Sshd;

  beforeAll(async () => {
    ed25519 = await startSshd({ host: '127.0.0.1' });
    rsa = await startSshd({ host: '127.0.0.1', hostKeyTypes: ['rsa'] });
  });

  afterAll(async () => {
    await ed25519?.stop();
    await rsa?.stop();
  });

  it('reads the key sshd presents, as ssh-keygen fingerprints it, and never tries to log in', async () => {
    const key = await fetcher.fetchHostKey(ed25519.host, ed25519.port, 5000);
    expect(key).toEqual({ algorithm: 'ssh-ed25519', fingerprint: ed25519.hostKeys[0].fingerprint });
    const rsaKey = await fetcher.fetchHostKey(rsa.host, rsa.port, 5000);
    expect(rsaKey).toEqual({ algorithm: 'ssh-rsa', fingerprint: rsa.hostKeys[0].fingerprint });
    // The probe user never reached authentication (sshd logs "Invalid user" for any attempt).
    expect(ed25519.log()).not.toContain('intercloud-host-key-probe');
    expect(ed25519.log()).not.toMatch(/Accepted|Failed publickey/);
  });

  it('says who did not answer: a closed port', async () => {
    const closed = await freePort('127.0.0.1');
    await expect(fetcher.fetchHostKey('127.0.0.1', closed, 3000)).rejects.toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      message: expect.stringContaining(`SSH 127.0.0.1:${closed}: no answer`),
      details: expect.objectContaining({ reason: 'NO_ANSWER' }),
    });
  });

  it('gives up after the timeout on a server that accepts and never speaks, or speaks something else', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s));
    const chatty = net.createServer((s) => {
      sockets.add(s);
      s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    const silentPort = await freePort('127.0.0.1');
    await new Promise<void>((r) => silent.listen(silentPort, '127.0.0.1', r));
    const chattyPort = await freePort('127.0.0.1');
    await new Promise<void>((r) => chatty.listen(chattyPort, '127.0.0.1', r));
    try {
      await expect(fetcher.fetchHostKey('127.0.0.1', silentPort, 500)).rejects.toThrow(`SSH 127.0.0.1:${silentPort}: no answer`);
      await expect(fetcher.fetchHostKey('127.0.0.1', chattyPort, 3000)).rejects.toThrow(`SSH 127.0.0.1:${chattyPort}:`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
      await new Promise((r) => chatty.close(r));
    }
  });
});
