/** Start a real broker in this process on an ephemeral port, against a test database. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino, { Logger } from 'pino';
import { Broker, BrokerAdapters, startBroker } from '../../src/broker';
import { loadConfig } from '../../src/config';
import { LAB_CLOUD_ENV } from './lab';

export interface TestBroker extends Broker {
  adminToken: string;
  dataDir: string;
}

export function newAdminSecret(): string {
  return `icb_test_${crypto.randomBytes(24).toString('base64url')}`;
}

export interface TestBrokerOptions {
  /** Where the broker logs (default: pino at TEST_LOG_LEVEL, silent unless set). */
  logger?: Logger;
  /** Adapters bound instead of the built-in ones (a stand-in where a test needs answers no real peer gives on demand). */
  adapters?: BrokerAdapters;
}

/** `env` overrides the defaults, the lab endpoint settings (test/support/lab.ts) included. */
export async function startTestBroker(databaseUrl: string, env: Record<string, string> = {}, options: TestBrokerOptions = {}): Promise<TestBroker> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-test-broker-'));
  const adminToken = env.INTERCLOUD_ADMIN_TOKEN ?? newAdminSecret();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    INTERCLOUD_DATA_DIR: dataDir,
    // Brokers on one database are replicas: they share the key that seals cloud credentials.
    INTERCLOUD_SECRET_KEY: crypto.createHash('sha256').update(databaseUrl).digest('base64'),
    INTERCLOUD_ADMIN_TOKEN: adminToken,
    ...LAB_CLOUD_ENV,
    ...env,
  });
  const broker = await startBroker(config, options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), options.adapters);
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
