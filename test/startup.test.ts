/**
 * The built broker as an operator runs it: with no DATABASE_URL it starts an embedded
 * PostgreSQL in its data directory, bootstraps an admin token once, keeps its data and key
 * across restarts and stops cleanly on SIGTERM; a bad setting stops it with exit code 2.
 * Needs dist/ (npx tsc).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { launchBroker, LaunchedBroker, listeningUrl } from './support/broker-process';
import { gqlOk } from './support/graphql';
import { LAB_CLOUD_ENV } from './support/lab';
import { waitFor } from './support/wait';

const TOKEN_LINE = /^Bootstrap admin token \(shown once, store it now\): (\S+)$/m;

function running(p: LaunchedBroker | undefined): p is LaunchedBroker {
  return !!p && p.child.exitCode === null && p.child.signalCode === null;
}

/** Processes whose command line mentions `dir` (a postgres left running in the data directory). */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(dir)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function status(url: string): Promise<number> {
  const res = await request(url);
  await res.body.dump();
  return res.statusCode;
}

const errorLogLines = (stdout: string) =>
  stdout.split('\n').filter((line) => line.startsWith('{') && (JSON.parse(line) as { level: number }).level >= 50);

describe('broker binary with the embedded PostgreSQL', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let broker: LaunchedBroker | undefined;
  let url: string;
  let adminToken: string;
  let tenantId: string;

  const start = async () => {
    broker = launchBroker(env);
    // First init of the embedded cluster takes a few seconds here; be generous.
    url = await listeningUrl(broker, 60_000);
    return broker;
  };
  const clusterDir = () => path.join(dataDir, 'postgres');

  beforeAll(() => {
    // As root the embedded PostgreSQL runs as user "postgres", which must traverse the directory.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-startup-'));
    fs.chmodSync(dataDir, 0o755);
    env = { PORT: '0', HOST: '127.0.0.1', INTERCLOUD_DATA_DIR: dataDir, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '3000', ...LAB_CLOUD_ENV };
  });

  afterAll(async () => {
    if (running(broker)) {
      broker.child.kill('SIGTERM');
      await broker.exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe('first start on an empty data directory', () => {
    beforeAll(start, 90_000);

    it('becomes ready', async () => {
      const origin = new URL(url).origin;
      expect(await status(`${origin}/readyz`)).toBe(200);
      expect(await status(`${origin}/healthz`)).toBe(200);
    });

    it('prints a bootstrap admin token exactly once', () => {
      const tokens = [...broker!.stdout().matchAll(new RegExp(TOKEN_LINE, 'gm'))].map((m) => m[1]);
      expect(tokens).toHaveLength(1);
      adminToken = tokens[0];
      expect(adminToken).toMatch(/^icb_[A-Za-z0-9_-]{43}$/);
    });

    it('the token is an ADMIN of the admin tenant', async () => {
      const data = await gqlOk(url, adminToken, '{ me { role tenantName } }');
      expect(data.me).toEqual({ role: 'ADMIN', tenantName: 'admin' });
    });

    it('stores a tenant', async () => {
      const data = await gqlOk(url, adminToken, 'mutation { createTenant(input: { name: "survives-restart" }) { id name } }');
      expect(data.createTenant.name).toBe('survives-restart');
      tenantId = data.createTenant.id;
    });

    it('generated secret.key in the data directory, mode 0600', () => {
      const file = path.join(dataDir, 'secret.key');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
    });

    it('runs its PostgreSQL in the data directory', () => {
      expect(fs.existsSync(path.join(clusterDir(), 'postmaster.pid'))).toBe(true);
      expect(processesUsing(clusterDir()).length).toBeGreaterThan(0);
    });

    it('exits with code 0 on SIGTERM', async () => {
      broker!.child.kill('SIGTERM');
      expect(await broker!.exited).toEqual({ code: 0, signal: null });
    });

    it('stopped its embedded PostgreSQL', async () => {
      await broker!.exited;
      expect(fs.existsSync(path.join(clusterDir(), 'postmaster.pid'))).toBe(false);
      expect(processesUsing(clusterDir())).toEqual([]);
    });

    // Passes today only because the exit above comes first. Once it is fixed, expect this to
    // fail on a second bug (src/api/server.ts): Apollo's own SIGTERM handler and main.ts's both
    // call apollo.stop(); the second call never returns (Apollo 5.5.1 leaves its stop barrier
    // unresolved after a successful stop), so the stop waits SHUTDOWN_GRACE_MS and logs "error
    // while stopping: timed out ... draining HTTP and WebSocket connections". Fix: construct
    // ApolloServer with `stopOnTerminationSignals: false` (main.ts owns the signals).
    it('logged no error while stopping', () => {
      expect(errorLogLines(broker!.stdout())).toEqual([]);
      expect(broker!.stderr()).toBe('');
    });
  });

  describe('second start on the same data directory', () => {
    let keyBefore: string;

    beforeAll(async () => {
      keyBefore = fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8');
      await start();
    }, 90_000);

    it('becomes ready again', async () => {
      expect(await status(`${new URL(url).origin}/readyz`)).toBe(200);
    });

    it('does not print a new token', () => {
      expect(broker!.stdout()).not.toMatch(TOKEN_LINE);
    });

    it('still accepts the token from the first start', async () => {
      expect((await gqlOk(url, adminToken, '{ me { role } }')).me.role).toBe('ADMIN');
    });

    it('still has the tenant created before', async () => {
      const data = await gqlOk(url, adminToken, '{ tenants { id name } }');
      expect(data.tenants).toContainEqual({ id: tenantId, name: 'survives-restart' });
    });

    it('kept the same secret.key, mode 0600', () => {
      const file = path.join(dataDir, 'secret.key');
      expect(fs.readFileSync(file, 'utf8')).toBe(keyBefore);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    });

    it('exits with code 0 on SIGTERM again', async () => {
      broker!.child.kill('SIGTERM');
      expect(await broker!.exited).toEqual({ code: 0, signal: null });
    });

    it('stopped its embedded PostgreSQL again', async () => {
      await broker!.exited;
      expect(fs.existsSync(path.join(clusterDir(), 'postmaster.pid'))).toBe(false);
      expect(processesUsing(clusterDir())).toEqual([]);
    });
  });
});

describe('broker binary with a bad setting', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-badconfig-'));
  });

  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['GRAPHQL_MAX_DEPTH', '1'],
    ['GRAPHQL_INTROSPECTION', 'maybe'],
    ['INTERCLOUD_ADMIN_TOKEN', 'too-short'],
    ['INTERCLOUD_SECRET_KEY', 'bm90LTMyLWJ5dGVz'],
    ['DATABASE_URL', 'mysql://127.0.0.1/intercloud'],
    ['REQUEST_BODY_LIMIT', 'lots'],
    ['LOG_LEVEL', 'loud'],
    ['CLOUD_ALLOW_INSECURE_HTTP', 'yes'],
    ['CLOUD_ENDPOINT_ALLOW', '127.0.0.0/33'],
    ['CLOUD_ENDPOINT_DENY', 'intranet'],
    ['CLOUD_CA_FILE', '/nonexistent/ca.pem'],
    ['GRAPHQL_MAX_ALIASES', '0'],
    ['GRAPHQL_MAX_TOKENS', '10'],
    ['RATE_LIMIT_ANONYMOUS_PER_MINUTE', '0'],
    ['TRUSTED_PROXIES', '10.0.0.0/8,not-an-address'],
    ['WS_MAX_CONNECTIONS_PER_ADDRESS', '0'],
    ['WS_MAX_SUBSCRIPTIONS_PER_CONNECTION', 'many'],
    ['WS_MAX_BUFFERED_BYTES', '1024'],
    ['WS_TOKEN_CHECK_SECONDS', '0'],
    ['CLONE_STEP_ATTEMPTS', '0'],
    ['CLONE_SNAPSHOT_TIMEOUT_SECONDS', '0'],
    ['CLOUD_REQUEST_TIMEOUT_SECONDS', 'soon'],
    ['RETENTION_EVENTS_DAYS', '-1'],
  ])('%s=%s: exits with code 2 and names the variable', async (name, value) => {
    const p = launchBroker({ PORT: '0', HOST: '127.0.0.1', INTERCLOUD_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...LAB_CLOUD_ENV, [name]: value });
    const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
    const exit = await p.exited;
    clearTimeout(timer);
    expect(exit).toEqual({ code: 2, signal: null });
    expect(p.stderr()).toMatch(new RegExp(`^\\s*${name}: `, 'm'));
    expect(p.stdout()).not.toMatch(/listening on/);
    // It stopped before touching anything.
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

describe('npm start as a user runs it', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-npm-start-'));
    fs.chmodSync(dataDir, 0o755);
  });

  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops everything on SIGTERM to the npm process: the broker, its embedded PostgreSQL, the port', async () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.homedir(), PORT: '0', HOST: '127.0.0.1', INTERCLOUD_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...LAB_CLOUD_ENV };
    // npm start builds first (into dist/, which other suites use too: the same sources build the same files).
    const child = spawn('npm', ['start'], { cwd: path.join(__dirname, '..'), env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const url = await listeningUrl({ child, stdout: () => out, stderr: () => err, exited }, 150_000);
    expect(await status(`${new URL(url).origin}/readyz`)).toBe(200);
    expect(processesUsing(path.join(dataDir, 'postgres')).length).toBeGreaterThan(0);

    child.kill('SIGTERM'); // the npm process, as `kill <pid of npm start>` or Ctrl-C in its terminal would
    expect(await exited).toEqual({ code: 0, signal: null });
    // Nothing is left: no postgres on the data directory, nothing listening on the port.
    await waitFor(() => processesUsing(path.join(dataDir, 'postgres')).length === 0, 'the embedded PostgreSQL to stop', 20_000);
    await expect(status(`${new URL(url).origin}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  }, 200_000);
});
