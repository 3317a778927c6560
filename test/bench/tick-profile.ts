/**
 * Profiles one steady autoscaler tick on a seeded fleet (not a benchmark: a tool for finding where
 * the tick's time goes): each statement's time, and the rest (JS) of evaluateAll.
 *
 *   node dist/test/bench/tick-profile.js [--types 1000] [--keep]
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import pino from 'pino';
import { Logger as TypeOrmLogger } from 'typeorm';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { startTestBroker } from '../support/broker';
import { LONGEST_HOLD_SECONDS, seedScale } from '../support/scale-seed';
import { AutoscalerService } from '../../src/services/autoscaler.service';

const { values: args } = parseArgs({ options: { types: { type: 'string', default: '1000' }, db: { type: 'string' } } });

class Timer implements TypeOrmLogger {
  rows: { ms: number; sql: string }[] = [];
  logQuery(): void {}
  logQueryError(): void {}
  logQuerySlow(time: number, query: string): void {
    this.rows.push({ ms: time, sql: query.replace(/\s+/g, ' ').slice(0, 110) });
  }
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

async function main() {
  const server = 'postgres://postgres@127.0.0.1:5432/postgres';
  let dbUrl = args.db;
  let seededNow = new Date();
  if (!dbUrl) {
    const name = `intercloud_tickprof_${crypto.randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: server });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    dbUrl = `postgres://postgres@127.0.0.1:5432/${name}`;
  }
  const broker = await startTestBroker(dbUrl, { SCHEDULER_TICK_SECONDS: '3600' });
  const ds = createDataSource(dbUrl, 10);
  await ds.initialize();
  const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM vm_types`);
  if (n === 0) {
    await seedScale(ds, { clouds: 100, types: Number(args.types), vmsPerType: 10, heldTypes: Math.ceil(Number(args.types) / 10), sampleEverySeconds: 15, historySeconds: LONGEST_HOLD_SECONDS + 45, now: seededNow });
  } else {
    seededNow = new Date((await ds.query(`SELECT max(observed_at) AS m FROM samples`))[0].m);
  }
  console.log(`db ${dbUrl} now ${seededNow.toISOString()}`);
  const s = broker.services;
  const autoscaler = new AutoscalerService(ds, s.scalingDecisions, s.clone, s.scaleDown, s.matchmaking, s.audit, pino({ level: 'silent' }), { pollIntervalMs: 15_000 });
  const timer = new Timer();
  ds.setOptions({ logger: timer, maxQueryExecutionTime: 1e-9 });
  for (let i = 0; i < 4; i++) {
    timer.rows = [];
    const t0 = performance.now();
    const r = await autoscaler.evaluateAll(new Date(seededNow.getTime() + 1000 * (i + 1)));
    const total = performance.now() - t0;
    const t1 = performance.now();
    const facts = await autoscaler.factsOfTypes(null, new Date(seededNow.getTime() + 1000 * (i + 1)));
    const factsMs = performance.now() - t1;
    console.log(`tick ${i}: ${total.toFixed(0)} ms, ${timer.rows.length} statements (factsOfTypes alone ${factsMs.toFixed(0)} ms), verdicts ${r.filter((e) => e.verdict).length}, facts ${facts.length}`);
    if (i === 0 || i >= 3) for (const q of timer.rows.slice(0, 17)) console.log(`  ${q.ms.toString().padStart(5)} ms  ${q.sql}`);
  }
  await ds.destroy();
  await broker.stop();
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
