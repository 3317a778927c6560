/**
 * A real OpenSSH server for tests: /usr/sbin/sshd in the foreground on a loopback address and a
 * port of 2400-2499 (the range this suite keeps to on shared machines), with its own host keys,
 * key-only authentication and a state folder under /tmp. Stopped by its PID.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KeyPair, keyPair } from './ssh-keys';
import { waitFor } from './wait';

export const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  host: string;
  port: number;
  /** The host keys it presents, by type. */
  hostKeys: KeyPair[];
  /** The log (-E), to check what clients did. */
  log(): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  host?: string;
  hostKeyTypes?: ('ed25519' | 'ecdsa' | 'rsa')[];
  authorizedKeys?: string[];
}

/** A port of 2400-2499 on `host` that nothing listens on right now. */
export async function freePort(host: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 2400 + Math.floor(Math.random() * 100);
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, host, () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in 2400-2499 on ${host}`);
}

export async function startSshd(o: SshdOptions = {}): Promise<Sshd> {
  const host = o.host ?? '127.0.0.1';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-sshd-'));
  const hostKeys = (o.hostKeyTypes ?? ['ed25519']).map((type) => keyPair(dir, `ssh_host_${type}_key`, { type, comment: `root@${host}` }));
  fs.writeFileSync(path.join(dir, 'authorized_keys'), (o.authorizedKeys ?? []).join('\n') + '\n');
  fs.mkdirSync('/run/sshd', { recursive: true });
  const logFile = path.join(dir, 'sshd.log');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort(host);
    const config = [
      `Port ${port}`,
      `ListenAddress ${host}`,
      ...hostKeys.map((k) => `HostKey ${k.privateKeyFile}`),
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PrintMotd no',
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
    ].join('\n');
    const configFile = path.join(dir, 'sshd_config');
    fs.writeFileSync(configFile, `${config}\n`);
    const child: ChildProcess = spawn(SSHD, ['-D', '-f', configFile, '-E', logFile], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const up = await waitFor(
      async () => {
        if (child.exitCode !== null) return 'exited';
        return (await accepts(host, port)) ? 'up' : null;
      },
      `sshd on ${host}:${port}`,
      10_000,
    );
    if (up === 'exited') {
      // Another process took the port between the probe and sshd's bind: try another.
      if (attempt < 5) continue;
      throw new Error(`sshd did not start: ${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : 'no log'}`);
    }
    return {
      host,
      port,
      hostKeys,
      log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''),
      stop: async () => {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
