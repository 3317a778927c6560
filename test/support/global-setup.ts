/**
 * Once per test run: find a PostgreSQL (TEST_DATABASE_URL, default the machine's server; an
 * embedded one when none answers) and build a migrated template database that every test
 * file clones (CREATE DATABASE ... TEMPLATE), which is far faster than migrating per file.
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import pino from 'pino';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { startEmbeddedPostgres } from '../../src/adapters/postgres/embedded-postgres';
import { migrate } from '../../src/adapters/postgres/migrate';

declare global {
  // eslint-disable-next-line no-var
  var __embeddedPostgresStop: (() => Promise<void>) | undefined;
}

async function answers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export default async function globalSetup(): Promise<void> {
  let serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (!(await answers(serverUrl))) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-test-pg-'));
    fs.chmodSync(dir, 0o755);
    console.log(`\nno PostgreSQL answers at ${serverUrl}; starting an embedded one in ${dir}`);
    const embedded = await startEmbeddedPostgres(dir, pino({ level: 'warn' }));
    globalThis.__embeddedPostgresStop = async () => {
      await embedded.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    };
    serverUrl = withDatabase(embedded.url, 'postgres');
  }
  // The template's name carries a hash of the migrations, so a changed migration gets a new one.
  const migrationsDir = path.join(__dirname, '../../migrations');
  const hash = crypto.createHash('sha256');
  for (const f of fs.readdirSync(migrationsDir).sort()) hash.update(f).update(fs.readFileSync(path.join(migrationsDir, f)));
  const template = `intercloud_tpl_${hash.digest('hex').slice(0, 12)}`;

  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    // `npm test` runs two jest processes at once (test/run-lanes.mjs): one builds the template
    // while the other waits here, then finds it whole (never half-migrated).
    await admin.query(`SELECT pg_advisory_lock(hashtext('intercloud-test-template'))`);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (exists.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${template}`);
      const ds = createDataSource(withDatabase(serverUrl, template), 2);
      await ds.initialize();
      try {
        await migrate(ds);
      } catch (err) {
        await ds.destroy();
        await admin.query(`DROP DATABASE ${template}`);
        throw err;
      }
      await ds.destroy();
    }
  } finally {
    await admin.end();
  }
  process.env.INTERCLOUD_TEST_SERVER_URL = serverUrl;
  process.env.INTERCLOUD_TEST_TEMPLATE = template;
}
