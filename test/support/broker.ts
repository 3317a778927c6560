/** Start a real broker in this process on an ephemeral port, against a test database. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Broker, startBroker } from '../../src/broker';
import { loadConfig } from '../../src/config';

export interface TestBroker extends Broker {
  adminToken: string;
  dataDir: string;
}

export function newAdminSecret(): string {
  return `icb_test_${crypto.randomBytes(24).toString('base64url')}`;
}

export async function startTestBroker(databaseUrl: string, env: Record<string, string> = {}): Promise<TestBroker> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-test-broker-'));
  const adminToken = env.INTERCLOUD_ADMIN_TOKEN ?? newAdminSecret();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    INTERCLOUD_DATA_DIR: dataDir,
    INTERCLOUD_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
    INTERCLOUD_ADMIN_TOKEN: adminToken,
    ...env,
  });
  const broker = await startBroker(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
  return {
    ...broker,
    adminToken,
    dataDir,
    stop: async () => {
      await broker.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
