/**
 * The autoscaler at scale, on a real PostgreSQL: one round over every VM type reads the facts of
 * all of them set-based, so the queries of a tick do not grow with the number of types (counted
 * for 3 and for 30 types, same fleet shape), nor with the number of blocks that begin in it (1
 * and 10, stored together and published with dense seqs); a block that goes on is not stored
 * again and costs no query; and clones in flight are found by the VM type stored on the job.
 */
import { Client } from 'pg';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { CloneJobState } from '../../src/domain/clone-phase';
import { VmEntity } from '../../src/domain/entities';
import { ScalingOutcome } from '../../src/domain/scaling-rules';
import { AdvisoryLock } from '../../src/ports/advisory-locks.port';
import { AutoscalerService } from '../../src/services/autoscaler.service';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertCloneJob } from '../support/fixtures';
import { countQueries, LONGEST_HOLD_SECONDS, seedScale } from '../support/scale-seed';

describe('autoscaler at scale', () => {
  const opened: { db: TestDatabase; broker: TestBroker; ds: DataSource; leader: Client }[] = [];

  afterAll(async () => {
    for (const o of opened) {
      await o.ds.destroy();
      await o.broker.stop();
      await o.leader.end();
      await o.db.drop();
    }
  });

  /** A fleet of `types` types (a third of them overloaded at their maximum), and an autoscaler whose every statement is counted. */
  async function fleet(types: number) {
    const db = await createTestDatabase();
    // This test drives the rounds: it holds the scheduler's leader lock, so the broker never leads
    // (its first round would otherwise run at start, racing the seeding and storing the blocks first).
    const leader = new Client({ connectionString: db.url });
    await leader.connect();
    await leader.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.SCHEDULER]);
    const broker = await startTestBroker(db.url, { SCHEDULER_TICK_SECONDS: '3600' });
    const ds = createDataSource(db.url, 4);
    await ds.initialize();
    opened.push({ db, broker, ds, leader });
    const now = new Date();
    const seeded = await seedScale(ds, { clouds: 3, types, vmsPerType: 2, heldTypes: Math.ceil(types / 3), sampleEverySeconds: 15, historySeconds: LONGEST_HOLD_SECONDS + 45, now });
    const s = broker.services;
    const autoscaler = new AutoscalerService(ds, s.scalingDecisions, s.clone, s.scaleDown, s.matchmaking, s.audit, pino({ level: 'silent' }), { pollIntervalMs: 15_000 });
    return { ...seeded, ds, autoscaler, counter: countQueries(ds), now };
  }

  /** The statements of one round over every type. */
  async function tick(f: Awaited<ReturnType<typeof fleet>>, now: Date) {
    const before = f.counter.count;
    const evaluations = await f.autoscaler.evaluateAll(now);
    return { evaluations, queries: f.counter.count - before };
  }

  it('reads the facts of 3 or 30 VM types with the same number of queries', async () => {
    const small = await fleet(3);
    const large = await fleet(30);
    const firstRounds: number[] = [];
    for (const f of [small, large]) {
      // First round: every overloaded type's block is new and stored (all of them in one transaction).
      const first = await tick(f, f.now);
      const held = first.evaluations.filter((e) => e.verdict);
      expect(held.map((e) => e.verdict!.outcome)).toEqual(held.map(() => ScalingOutcome.AT_MAX));
      expect(held.every((e) => e.recorded)).toBe(true);
      expect(first.evaluations).toHaveLength(f.vmTypeIds.length);
      firstRounds.push(first.queries);
    }
    // 1 block beginning or 10: the same statements (stored set-based, not a transaction per block).
    expect(firstRounds[1]).toBe(firstRounds[0]);
    expect(firstRounds[0]).toBeLessThanOrEqual(25);
    // Each stored block is published once, on the tenant's decision stream, with dense seqs.
    const published: { seq: number; vmTypeId: string; decisionId: string }[] = await large.ds.query(
      `SELECT e.seq, e.payload->>'vmTypeId' AS "vmTypeId", e.payload->>'id' AS "decisionId" FROM events e WHERE e.stream = $1 ORDER BY e.seq`,
      [`scaling-decisions:${large.tenantId}`],
    );
    const stored: { id: string; vm_type_id: string }[] = await large.ds.query(`SELECT id, vm_type_id FROM scaling_decisions`);
    expect(published.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(published.map((e) => [e.decisionId, e.vmTypeId]).sort()).toEqual(stored.map((d) => [d.id, d.vm_type_id]).sort());
    expect(new Set(stored.map((d) => d.vm_type_id))).toEqual(new Set(large.vmTypeIds.slice(0, 10)));
    // Next round: the same blocks go on; nothing is stored, and the reads do not depend on the type count.
    const a = await tick(small, new Date(small.now.getTime() + 1000));
    const b = await tick(large, new Date(large.now.getTime() + 1000));
    expect(a.evaluations.filter((e) => e.verdict).map((e) => e.recorded)).toEqual([false]);
    expect(b.evaluations.filter((e) => e.verdict).map((e) => e.recorded)).toEqual(Array(10).fill(false));
    expect(b.queries).toBe(a.queries);
    expect(a.queries).toBeLessThanOrEqual(15);
    // One decision per overloaded type, not one per round.
    expect((await large.ds.query(`SELECT count(*)::int AS n FROM scaling_decisions`))[0].n).toBe(10);
  });

  it('learns the cooldown from the DONE clones of the type to the cloud the last clone went to', async () => {
    const f = await fleet(3);
    const [typeId, otherTypeId] = f.vmTypeIds;
    const [source] = await f.ds.getRepository(VmEntity).find({ where: { vmTypeId: typeId } });
    const [otherSource] = await f.ds.getRepository(VmEntity).find({ where: { vmTypeId: otherTypeId } });
    const [a, b] = f.cloudIds;
    const base = f.now.getTime() - 4 * 3600_000;
    /** A DONE clone started `startMin` minutes after base, taking `seconds`. */
    const done = async (vm: VmEntity, target: string, startMin: number, seconds: number) => {
      const job = await insertCloneJob(f.ds, vm, target, CloneJobState.DONE, new Date(base + startMin * 60_000));
      await f.ds.query(`UPDATE clone_jobs SET finished_at = created_at + make_interval(secs => $2) WHERE id = $1`, [job.id, seconds]);
    };
    // To B: seven clones, the newest five 100..500 s; to A: one, the newest DONE of the type overall; another type's clone to B is not this type's.
    for (const [i, seconds] of [900, 900, 100, 200, 300, 400, 500].entries()) await done(source, b, i * 20, seconds);
    await done(otherSource, b, 130, 5000);
    await done(source, a, 140, 30);
    // The last clone started went to B (still running): the cooldown is measured on B.
    await insertCloneJob(f.ds, source, b, CloneJobState.RUNNING, new Date(base + 150 * 60_000));
    const [{ facts }] = await f.autoscaler.factsOfTypes([typeId], f.now);
    expect(facts.lastCloneTargetCloudId).toBe(b);
    expect(facts.recentCloneSecondsToTarget).toEqual([500, 400, 300, 200, 100]);
    expect(facts.lastDoneClone?.seconds).toBe(30);
    expect(facts.lastCloneStartedAt).toEqual(new Date(base + 150 * 60_000));
  });

  it('counts a clone in flight by the VM type stored on its job', async () => {
    const f = await fleet(3);
    const [overloaded] = f.vmTypeIds;
    const vms = await f.ds.getRepository(VmEntity).find({ where: { vmTypeId: overloaded } });
    const job = await insertCloneJob(f.ds, vms[0], vms[1].cloudId, CloneJobState.RUNNING);
    expect((await f.ds.query(`SELECT vm_type_id FROM clone_jobs WHERE id = $1`, [job.id]))[0].vm_type_id).toBe(overloaded);
    const [facts] = await f.autoscaler.factsOfTypes([overloaded], f.now);
    expect(facts.facts.clonesInFlight.map((c) => c.id)).toEqual([job.id]);
    const evaluation = await f.autoscaler.evaluate(overloaded, f.now);
    expect(evaluation.verdict).toMatchObject({ outcome: ScalingOutcome.CLONE_IN_FLIGHT });
    expect(evaluation.verdict!.reason).toContain(`clone job ${job.id} of this VM type is still running`);
  });
});
