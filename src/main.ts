/** Entry point: `node dist/src/main.js` (npm start); with INTERCLOUD_ROLE=agent, a transfer agent (npm run agent). */
import 'reflect-metadata';
import { startBroker } from './broker';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { runAgent } from './agent';

async function main(): Promise<void> {
  if (process.env.INTERCLOUD_ROLE === 'agent') {
    try {
      await runAgent();
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(err.message);
        process.exit(2);
      }
      throw err;
    }
    return;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const broker = await startBroker(config, logger);
  logger.info({ url: broker.url, database: config.databaseUrl ? 'DATABASE_URL' : 'embedded', dataDir: config.dataDir }, 'intercloud broker ready');
  // Plain lines on stdout, for people and for scripts that start the broker.
  console.log(`Intercloud broker listening on ${broker.url}`);
  if (broker.generatedAdminToken) {
    console.log(`Bootstrap admin token (shown once, store it now): ${broker.generatedAdminToken}`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    broker.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  console.error('intercloud broker failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
