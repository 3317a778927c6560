/**
 * The Nagios adapters against the peers' real Nagios 4 (statusjson.cgi behind Apache basic auth)
 * and, for configuration, over SSH to the peers' sshd: passive results become samples, a host
 * file written over SSH appears after the reload, a file that does not verify is undone and
 * Nagios keeps running.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { NagiosConfigurator } from '../../src/adapters/nagios/nagios-config.configurator';
import { NagiosStatusSource } from '../../src/adapters/nagios/nagios-status.source';
import { SshRemoteShell } from '../../src/adapters/ssh/ssh.remote-shell';
import { STRICT_ENDPOINT_POLICY } from '../../src/domain/endpoint-policy';
import { SampleState } from '../../src/domain/enums';
import { DomainError } from '../../src/domain/errors';
import type { NagiosConfigTarget, NagiosStatusEndpoint, ServiceStatus } from '../../src/ports/monitoring.port';
import type { RemoteSession } from '../../src/ports/remote-shell.port';
import { LAB_ENDPOINTS } from '../support/lab';
import { describeWithServicePeers, type ServicePeers } from '../support/service-peers';
import { isRunning, nagiosPid, submitPassive } from '../support/nagios';
import { waitFor } from '../support/wait';

jest.setTimeout(180_000);

async function failure(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

function hostConfig(peers: ServicePeers, name: string, address: string): string {
  return [
    'define host {',
    `    use        ${peers.nagios.hostTemplate}`,
    `    host_name  ${name}`,
    `    alias      intercloud adapter test`,
    `    address    ${address}`,
    '}',
    'define service {',
    `    use                  ${peers.nagios.serviceTemplate}`,
    `    host_name            ${name}`,
    '    service_description  sip-load',
    '}',
    '',
  ].join('\n');
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describeWithServicePeers('Nagios adapters against the peers Nagios 4', (peers) => {
  const endpoint: NagiosStatusEndpoint = { statusUrl: peers.nagios.statusUrl, username: peers.nagios.username, password: peers.nagios.password };
  const source = new NagiosStatusSource({ policy: LAB_ENDPOINTS.policy });
  const configurator = new NagiosConfigurator();
  const shell = new SshRemoteShell({ policy: LAB_ENDPOINTS.policy });
  const prefix = `ictest-${randomBytes(4).toString('hex')}`;
  const written = new Set<string>();
  let root: RemoteSession;
  let sudoer: RemoteSession;

  const sshTarget = (username: string) => ({
    host: '127.0.0.1',
    port: peers.ssh.port,
    username,
    privateKey: peers.ssh.clientKey.privateKey,
    expectedHostKey: { algorithm: peers.ssh.hostKeys[0]!.algorithm, fingerprint: peers.ssh.hostKeys[0]!.fingerprint },
  });
  const config = (over: Partial<NagiosConfigTarget> = {}): NagiosConfigTarget => ({
    session: root,
    configDir: peers.nagios.configDir,
    verifyCommand: peers.nagios.verifyCommand,
    pidFile: peers.nagios.pidFile,
    sudo: false,
    timeoutMs: 120_000,
    programStatus: () => source.programStatus(endpoint),
    ...over,
  });
  const put = async (name: string, content: string, over: Partial<NagiosConfigTarget> = {}): Promise<void> => {
    written.add(name);
    await configurator.putHostConfig(config(over), `${name}.cfg`, content);
  };
  const knows = (name: string) => source.hasHost(endpoint, name).catch(() => false);
  const serviceOf = async (host: string, service: string): Promise<ServiceStatus | undefined> =>
    (await source.services(endpoint).catch(() => [] as ServiceStatus[])).find((s) => s.host === host && s.service === service);

  beforeAll(async () => {
    root = await shell.open(sshTarget('root'), 30_000);
    sudoer = await shell.open(sshTarget(peers.ssh.users.sudo), 30_000);
  });
  afterAll(async () => {
    // Whatever a failed test left: out of the configuration, and Nagios reloaded without it.
    for (const name of written) await configurator.removeHostConfig(config(), `${name}.cfg`).catch(() => undefined);
    await Promise.all([root?.close(), sudoer?.close()]);
    await source.close();
  });

  describe('status (statusjson.cgi)', () => {
    it('shows passive check results as samples: state, value, output and last_check as the observation time', async () => {
      const { host, passiveService: service } = peers.nagios;
      const base = Math.floor(Date.now() / 1000);
      const steps: Array<[0 | 1 | 2 | 3, string, SampleState, number | null]> = [
        [2, 'CRITICAL - load 95|load=95;80;90', SampleState.CRITICAL, 95],
        [1, "WARNING - 12 calls|'active calls'=12;10;20", SampleState.WARNING, 12],
        [0, 'OK - load 3|load=3', SampleState.OK, 3],
        [3, 'UNKNOWN - no data', SampleState.UNKNOWN, null],
      ];
      for (const [i, [code, output, state, value]] of steps.entries()) {
        const at = base + i + 1;
        await submitPassive(peers, host, service, code, output, at);
        const sample = await waitFor(
          async () => {
            const s = await serviceOf(host, service);
            return s && s.observedAt.getTime() === at * 1000 ? s : null;
          },
          `the ${state} result of ${host}/${service}`,
          60_000,
          250,
        );
        expect(sample).toEqual({ host, service, state, observedAt: new Date(at * 1000), value, output: output.split('|')[0] });
      }
    });

    it('answers whether a host is known', async () => {
      expect(await source.hasHost(endpoint, peers.nagios.host)).toBe(true);
      expect(await source.hasHost(endpoint, `${prefix}-nobody`)).toBe(false);
    });

    it('reports an unreachable Nagios as an error naming it, never as an empty list', async () => {
      const port = await freePort();
      const statusUrl = `http://127.0.0.1:${port}/cgi-bin/nagios4/statusjson.cgi`;
      const err = await failure(source.services({ ...endpoint, statusUrl }));
      expect(err.message).toBe(`Nagios ${statusUrl}: no answer (the connection failed, was cut or timed out; the broker's log has the cause)`);
      expect(err.details).toMatchObject({ reason: 'NO_ANSWER', retryable: true, detail: expect.stringContaining('ECONNREFUSED') });
    });

    it('reports refused credentials clearly, without repeating them', async () => {
      const err = await failure(source.services({ ...endpoint, password: 'not-the-password' }));
      expect(err.message).toBe(`Nagios ${peers.nagios.statusUrl}: the user name or password was refused (HTTP 401)`);
      expect(err.details).toMatchObject({ reason: 'AUTH_REFUSED', retryable: false, status: 401 });
      expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain('not-the-password');
      const unknownUser = await failure(source.hasHost({ ...endpoint, username: 'nobody' }, peers.nagios.host));
      expect(unknownUser.details.reason).toBe('AUTH_REFUSED');
    });

    it('reports something that is not statusjson.cgi, and what the policy refuses', async () => {
      const notThere = await failure(source.services({ ...endpoint, statusUrl: peers.nagios.statusUrl.replace('statusjson.cgi', 'nosuch.cgi') }));
      expect(notThere.details).toMatchObject({ reason: 'BAD_RESPONSE', status: 404 });
      expect(notThere.message).toMatch(/: HTTP 404$/);
      const strict = new NagiosStatusSource({ policy: STRICT_ENDPOINT_POLICY });
      try {
        const http = await failure(strict.services(endpoint));
        expect(http.message).toContain('the URL uses http://; integration endpoints must use https://');
        const loopback = await failure(strict.services({ ...endpoint, statusUrl: endpoint.statusUrl.replace('http:', 'https:') }));
        expect(loopback.details.reason).toBe('ENDPOINT_REFUSED');
        expect(loopback.message).toContain('resolves to 127.0.0.1, which is loopback; integration endpoints may not be loopback');
        const userInfo = await failure(source.services({ ...endpoint, statusUrl: endpoint.statusUrl.replace('http://', 'http://u:p@') }));
        expect(userInfo.message).toContain('must not contain user info');
      } finally {
        await strict.close();
      }
    });
  });

  describe('configuration over SSH', () => {
    it('writes a host file, verifies, reloads: the host appears in the JSON, its results become samples, and it goes again', async () => {
      const name = `${prefix}-added`;
      const pid = nagiosPid(peers);
      const started = (await source.programStatus(endpoint)).programStart;
      await put(name, hostConfig(peers, name, '127.0.9.1'));
      expect(fs.readFileSync(path.join(peers.nagios.configDir, `${name}.cfg`), 'utf8')).toBe(hostConfig(peers, name, '127.0.9.1'));
      // The reload is over when put returns: Nagios has restarted and knows the host.
      expect((await source.programStatus(endpoint)).programStart).toBeGreaterThan(started);
      expect(await knows(name)).toBe(true);
      // A reload is a SIGHUP: the same process re-reads its configuration.
      expect(nagiosPid(peers)).toBe(pid);

      const at = Math.floor(Date.now() / 1000);
      await submitPassive(peers, name, 'sip-load', 2, 'CRITICAL - load 99|load=99', at);
      const sample = await waitFor(async () => {
        const s = await serviceOf(name, 'sip-load');
        return s?.state === SampleState.CRITICAL ? s : null;
      }, `the passive result of ${name}`, 60_000, 250);
      expect(sample).toMatchObject({ value: 99, observedAt: new Date(at * 1000) });

      await configurator.removeHostConfig(config(), `${name}.cfg`);
      expect(fs.existsSync(path.join(peers.nagios.configDir, `${name}.cfg`))).toBe(false);
      expect(await source.hasHost(endpoint, name)).toBe(false);
      // Removing what is gone is fine.
      await configurator.removeHostConfig(config(), `${name}.cfg`);
    });

    it('refuses a change that does not verify: the previous file is restored, Nagios keeps running and answering', async () => {
      const name = `${prefix}-kept`;
      const file = path.join(peers.nagios.configDir, `${name}.cfg`);
      const good = hostConfig(peers, name, '127.0.9.2');
      await put(name, good);
      await waitFor(() => knows(name), `${name} in Nagios`, 60_000, 250);
      const pid = nagiosPid(peers);

      const broken = good.replace(`use        ${peers.nagios.hostTemplate}`, 'use        no-such-template');
      const err = await failure(put(name, broken));
      expect(err.details).toMatchObject({ reason: 'VERIFY_FAILED', retryable: false });
      expect(err.message).toMatch(
        new RegExp(`^Nagios configuration via SSH root@127\\.0\\.0\\.1:${peers.ssh.port}: the Nagios configuration does not verify with ${name}\\.cfg; the previous file was restored and Nagios was not reloaded\\. /usr/sbin/nagios4 said: .*no-such-template`),
      );
      expect(err.message).toContain("Error: Template 'no-such-template'");
      expect(fs.readFileSync(file, 'utf8')).toBe(good);
      expect(fs.readdirSync(peers.nagios.configDir).filter((f) => f.includes(name))).toEqual([`${name}.cfg`]);

      // Not a syntax error either: a host file cut short.
      const cut = await failure(put(name, 'define host {\n    host_name  half\n'));
      expect(cut.details.reason).toBe('VERIFY_FAILED');
      expect(fs.readFileSync(file, 'utf8')).toBe(good);

      expect(nagiosPid(peers)).toBe(pid);
      expect(isRunning(pid)).toBe(true);
      expect(await source.hasHost(endpoint, name)).toBe(true);
      expect(await source.hasHost(endpoint, peers.nagios.host)).toBe(true);
    });

    it('removes a new file that does not verify, and says what the verifier printed when it cannot run', async () => {
      const name = `${prefix}-new-broken`;
      const file = path.join(peers.nagios.configDir, `${name}.cfg`);
      const pid = nagiosPid(peers);
      const err = await failure(put(name, `define service {\n    use sip-passive\n    host_name ${prefix}-nosuchhost\n    service_description x\n}\n`));
      expect(err.details.reason).toBe('VERIFY_FAILED');
      expect(err.message).toContain('the new file was removed and Nagios was not reloaded');
      expect(err.message).toContain(`${prefix}-nosuchhost`);
      expect(fs.existsSync(file)).toBe(false);

      const missing = await failure(put(name, hostConfig(peers, name, '127.0.9.3'), { verifyCommand: ['/nonexistent/nagios4', '-v', peers.nagios.mainConfig] }));
      expect(missing.details.reason).toBe('VERIFY_FAILED');
      expect(missing.message).toMatch(/\/nonexistent\/nagios4 said: .*(No such file|not found)/);
      expect(fs.existsSync(file)).toBe(false);
      expect(nagiosPid(peers)).toBe(pid);
      expect(isRunning(pid)).toBe(true);
    });

    it('works through sudo -n where the login user may not write the directory or signal Nagios', async () => {
      const name = `${prefix}-sudo`;
      const file = path.join(peers.nagios.configDir, `${name}.cfg`);
      // Without sudo the account can neither write there nor signal the nagios user's process.
      const plain = await failure(put(name, hostConfig(peers, name, '127.0.9.4'), { session: sudoer }));
      expect(plain.message).toMatch(/permission denied/i);
      expect(fs.existsSync(file)).toBe(false);

      await put(name, hostConfig(peers, name, '127.0.9.4'), { session: sudoer, sudo: true });
      expect(fs.readFileSync(file, 'utf8')).toBe(hostConfig(peers, name, '127.0.9.4'));
      expect(fs.statSync(file).mode & 0o777).toBe(0o644);
      await waitFor(() => knows(name), `${name} in Nagios`, 60_000, 250);

      const pid = nagiosPid(peers);
      const err = await failure(put(name, 'define host {\n', { session: sudoer, sudo: true }));
      expect(err.message).toContain('the previous file was restored');
      expect(fs.readFileSync(file, 'utf8')).toBe(hostConfig(peers, name, '127.0.9.4'));
      expect(nagiosPid(peers)).toBe(pid);

      await configurator.removeHostConfig(config({ session: sudoer, sudo: true }), `${name}.cfg`);
      expect(fs.existsSync(file)).toBe(false);
      await waitFor(async () => !(await source.hasHost(endpoint, name)), `${name} to leave Nagios`, 60_000, 250);
    });

    it.each(['../../etc/passwd.cfg', 'sub/dir.cfg', '.hidden.cfg', 'host.txt', 'a b.cfg', ''])('refuses the file name %p', async (fileName) => {
      const err = await failure(configurator.putHostConfig(config(), fileName, 'x'));
      expect(err.code).toBe('BAD_USER_INPUT');
    });
  });
});
