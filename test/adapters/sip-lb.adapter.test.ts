/**
 * The SIP load-balancer adapter against the peers' real Kamailio (dispatcher on MariaDB), once per
 * table kind: Kamailio's `dispatcher`, and OpenSIPS's `load_balancer` read by Kamailio through the
 * lb_dispatcher view. Rows are added idempotently and literally, reloads make them live, and SIPp
 * calls through Kamailio reach the worker the adapter added.
 */
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import mysql from 'mysql2/promise';
import { SipLoadBalancerAdapter } from '../../src/adapters/sip-lb/sip-load-balancer.adapter';
import { STRICT_ENDPOINT_POLICY } from '../../src/domain/endpoint-policy';
import { LoadBalancerKind } from '../../src/domain/enums';
import { DomainError } from '../../src/domain/errors';
import type { Destination, SipLoadBalancerConnection } from '../../src/ports/sip-load-balancer.port';
import { LAB_ENDPOINTS } from '../support/lab';
import { describeWithServicePeers, type KamailioPeer, type ServicePeers } from '../support/service-peers';
import { runUac, startUasWorker } from '../support/sipp';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

async function failure(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const KINDS: Array<[LoadBalancerKind, (p: ServicePeers) => KamailioPeer, { set: string; uri: string; attrs: string }]> = [
  [LoadBalancerKind.KAMAILIO_DISPATCHER, (p) => p.kamailio.dispatcher, { set: 'setid', uri: 'destination', attrs: 'attrs' }],
  [LoadBalancerKind.OPENSIPS_LOAD_BALANCER, (p) => p.kamailio.loadBalancer, { set: 'group_id', uri: 'dst_uri', attrs: 'resources' }],
];

describeWithServicePeers('SIP load-balancer adapter against the peers Kamailio', (peers) => {
  const adapter = new SipLoadBalancerAdapter({ policy: LAB_ENDPOINTS.policy });
  let db: mysql.Connection;
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    db = await mysql.createConnection({ ...peers.mysql, connectTimeout: 30_000 });
  });
  afterAll(async () => {
    // Whatever a failed test left behind: every row this run tagged.
    for (const table of ['dispatcher', 'load_balancer']) await db.execute(`DELETE FROM ${table} WHERE description LIKE ?`, [`%ictest-${run}%`]);
    await db.end();
    await adapter.close();
  });

  describe.each(KINDS)('%s', (kind, kamailioOf, columns) => {
    const kamailio = kamailioOf(peers);
    const lb: SipLoadBalancerConnection = {
      kind,
      db: peers.mysql,
      table: kamailio.table,
      rpcUrl: kamailio.rpcUrl,
      reloadMethod: kamailio.reloadMethod,
      listMethod: kamailio.listMethod,
    };
    // A dispatcher set of this run's own: nobody else's calls go there, and ours go nowhere else.
    const setId = randomInt(1000, 900_000);
    const tag = (what: string) => `ictest-${run} ${what}`;
    const rowsTagged = async (t: string) =>
      (await db.execute(`SELECT ${columns.set} AS setId, ${columns.uri} AS uri, ${columns.attrs} AS attrs, description AS tag FROM ${lb.table} WHERE BINARY description = ?`, [t]))[0] as Array<Record<string, unknown>>;

    it('adds a destination once however often it is asked, reloads it live, and removes it', async () => {
      const d: Destination = { setId, uri: `sip:127.0.77.${randomInt(2, 250)}:5070`, attrs: 'pstn=100', tag: tag('job-1 vm-1') };
      await adapter.addDestination(lb, d);
      await adapter.addDestination(lb, d);
      await Promise.all([adapter.addDestination(lb, d), adapter.addDestination(lb, d)]);
      expect(await rowsTagged(d.tag)).toEqual([{ setId, uri: d.uri, attrs: d.attrs, tag: d.tag }]);

      await adapter.reload(lb);
      // reload_delta 0: a second reload at once is fine too.
      await adapter.reload(lb);
      expect(await adapter.liveDestinations(lb)).toContainEqual({ setId, uri: d.uri });

      await adapter.removeDestination(lb, d.tag);
      expect(await rowsTagged(d.tag)).toEqual([]);
      await adapter.removeDestination(lb, d.tag);
      await adapter.reload(lb);
      expect((await adapter.liveDestinations(lb)).map((l) => l.uri)).not.toContain(d.uri);
    });

    it('removes a row the operator entered by hand (same set and URI) along with the tagged one, and no other', async () => {
      const uri = `sip:127.0.82.${randomInt(2, 250)}:5070`;
      const byHand = tag('entered by hand');
      const elsewhere = tag('same uri, other set');
      const otherUri = tag('same set, other uri');
      await db.execute(`INSERT INTO ${lb.table} (${columns.set}, ${columns.uri}, ${columns.attrs}, description) VALUES (?, ?, 'pstn=1', ?), (?, ?, 'pstn=1', ?), (?, ?, 'pstn=1', ?)`, [
        setId, uri, byHand,
        setId + 1, uri, elsewhere,
        setId, `${uri};transport=tcp`, otherUri,
      ]);
      try {
        await adapter.reload(lb);
        const live = await adapter.liveDestinations(lb);
        expect(live).toEqual(expect.arrayContaining([{ setId, uri }, { setId: setId + 1, uri }]));
        await adapter.removeDestination(lb, tag('the vm'), { setId, uri });
        expect(await rowsTagged(byHand)).toEqual([]);
        expect(await rowsTagged(elsewhere)).toHaveLength(1);
        expect(await rowsTagged(otherUri)).toHaveLength(1);
        await adapter.reload(lb);
        const after = await adapter.liveDestinations(lb);
        expect(after).not.toContainEqual({ setId, uri });
        expect(after).toContainEqual({ setId: setId + 1, uri });
      } finally {
        await db.execute(`DELETE FROM ${lb.table} WHERE description IN (?, ?, ?)`, [byHand, elsewhere, otherUri]);
        await adapter.reload(lb);
      }
    });

    it('stores SQL-looking tags and attributes literally, and the tag exactly', async () => {
      const hostile: Destination = {
        setId,
        uri: `sip:127.0.78.${randomInt(2, 250)}:5070;transport=udp`,
        attrs: "'; DELETE FROM dispatcher WHERE '1'='1",
        tag: `ictest-${run} x'); DROP TABLE ${lb.table}; --`,
      };
      await adapter.addDestination(lb, hostile);
      expect(await rowsTagged(hostile.tag)).toEqual([{ setId, uri: hostile.uri, attrs: hostile.attrs, tag: hostile.tag }]);
      // Tags differing only in case are different tags (the column's collation would say equal).
      const upper = { ...hostile, tag: hostile.tag.toUpperCase().replace(`ICTEST-${run.toUpperCase()}`, `ictest-${run}`) };
      await adapter.addDestination(lb, upper);
      expect(await rowsTagged(upper.tag)).toHaveLength(1);
      await adapter.removeDestination(lb, hostile.tag);
      expect(await rowsTagged(hostile.tag)).toEqual([]);
      expect(await rowsTagged(upper.tag)).toHaveLength(1);
      await adapter.removeDestination(lb, upper.tag);
      const [tables] = await db.query('SHOW TABLES');
      expect((tables as Array<Record<string, string>>).map((r) => Object.values(r)[0])).toEqual(expect.arrayContaining(['dispatcher', 'load_balancer', 'lb_dispatcher', 'version']));
    });

    it('refuses what it cannot store exactly, before any SQL', async () => {
      const d: Destination = { setId, uri: 'sip:127.0.79.1:5070', attrs: 'pstn=1', tag: tag('refused') };
      const cases: Array<[Partial<SipLoadBalancerConnection> | null, Partial<Destination>, string]> = [
        [{ table: 'dispatcher; DROP TABLE version' }, {}, 'table'],
        [{ table: '`dispatcher`' }, {}, 'table'],
        [{ table: 'intercloud.dispatcher' }, {}, 'table'],
        [null, { tag: 'x'.repeat(200) }, 'tag'],
        [null, { tag: ' padded ' }, 'tag'],
        [null, { tag: 'new\nline' }, 'tag'],
        [null, { uri: 'http://127.0.0.1/' }, 'uri'],
        [null, { uri: 'sip:127.0.0.1 ; x' }, 'uri'],
        [null, { setId: -1 }, 'setId'],
        [null, { setId: 1.5 }, 'setId'],
      ];
      for (const [over, dOver, field] of cases) {
        const err = await failure(adapter.addDestination({ ...lb, ...over }, { ...d, ...dOver }));
        expect(err).toMatchObject({ code: 'BAD_USER_INPUT', details: { field } });
      }
      expect(await rowsTagged(d.tag)).toEqual([]);
    });

    it('reads the table where the balancer has no list call', async () => {
      const d: Destination = { setId, uri: `sip:127.0.80.${randomInt(2, 250)}:5070`, attrs: 'pstn=5', tag: tag('listed from the table') };
      await adapter.addDestination(lb, d);
      try {
        expect(await adapter.liveDestinations({ ...lb, listMethod: null })).toContainEqual({ setId, uri: d.uri });
      } finally {
        await adapter.removeDestination(lb, d.tag);
      }
    });

    it('sends calls through Kamailio to the SIPp worker whose destination it added: no call fails', async () => {
      const worker = await startUasWorker(peers, `127.0.81.${randomInt(2, 250)}`);
      const d: Destination = { setId, uri: worker.uri, attrs: 'pstn=100', tag: tag('sipp worker') };
      try {
        await adapter.addDestination(lb, d);
        await adapter.reload(lb);
        expect(await adapter.liveDestinations(lb)).toContainEqual({ setId, uri: worker.uri });
        const uac = await runUac(peers, { host: kamailio.sipHost, port: kamailio.sipPort }, setId, 10);
        if (uac.exitCode !== 0) throw new Error(`sipp UAC exited ${uac.exitCode}:\n${uac.output.slice(-3000)}`);
        await waitFor(() => worker.successfulCalls() >= 10, `the worker's stats to count 10 calls`, 60_000, 250);
        expect(worker.successfulCalls()).toBe(10);
      } finally {
        await adapter.removeDestination(lb, d.tag);
        await adapter.reload(lb);
        await worker.stop();
      }
    });
  });

  describe('failures', () => {
    const kamailio = peers.kamailio.dispatcher;
    const lb: SipLoadBalancerConnection = {
      kind: LoadBalancerKind.KAMAILIO_DISPATCHER,
      db: peers.mysql,
      table: 'dispatcher',
      rpcUrl: kamailio.rpcUrl,
      reloadMethod: kamailio.reloadMethod,
      listMethod: kamailio.listMethod,
    };
    const d: Destination = { setId: 1, uri: 'sip:127.0.82.1:5070', attrs: '', tag: `ictest-${run} failures` };
    const dbName = `MySQL ${peers.mysql.user}@${peers.mysql.host}:${peers.mysql.port}/${peers.mysql.database} (Kamailio dispatcher table dispatcher)`;

    it('names the database and the refusal for wrong credentials, without the password', async () => {
      const err = await failure(adapter.addDestination({ ...lb, db: { ...peers.mysql, password: 'not-the-password' } }, d));
      expect(err.details).toMatchObject({ reason: 'AUTH_REFUSED', retryable: false, errno: 1045 });
      expect(err.message).toMatch(new RegExp(`^${dbName.replace(/[().[\]]/g, '\\$&')}: the account was refused: Access denied`));
      expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('not-the-password');
    });

    it('says "no answer" when no database listens, and refuses what the policy refuses', async () => {
      const port = await freeTcpPort();
      const err = await failure(adapter.addDestination({ ...lb, db: { ...peers.mysql, port } }, d));
      expect(err.details).toMatchObject({ reason: 'NO_ANSWER', retryable: true, detail: expect.stringContaining('ECONNREFUSED') });
      expect(err.message).toContain(`:${port}/`);
      const strict = new SipLoadBalancerAdapter({ policy: STRICT_ENDPOINT_POLICY });
      try {
        const refused = await failure(strict.addDestination(lb, d));
        expect(refused.details.reason).toBe('ENDPOINT_REFUSED');
        expect(refused.message).toContain('resolves to 127.0.0.1, which is loopback; integration endpoints may not be');
        expect((await failure(strict.reload(lb))).details.reason).toBe('ENDPOINT_REFUSED');
      } finally {
        await strict.close();
      }
    });

    it('names a missing table or database', async () => {
      const table = await failure(adapter.addDestination({ ...lb, table: `no_such_table_${run}` }, d));
      expect(table.message).toContain('no such table');
      const database = await failure(adapter.removeDestination({ ...lb, db: { ...peers.mysql, database: `no_such_db_${run}` } }, d.tag));
      expect(database.details.reason).toMatch(/AUTH_REFUSED|OPERATION_FAILED/);
    });

    it('bounds a statement by its timeout, and the pool recovers', async () => {
      const hurried = new SipLoadBalancerAdapter({ policy: LAB_ENDPOINTS.policy, queryTimeoutMs: 1_000 });
      const locker = await mysql.createConnection({ ...peers.mysql, connectTimeout: 30_000 });
      try {
        // Nobody else may touch the table while this session holds it: the adapter's statement waits.
        await locker.query('LOCK TABLES dispatcher WRITE');
        const err = await failure(hurried.removeDestination(lb, d.tag));
        expect(err.details).toMatchObject({ reason: 'TIMEOUT', retryable: true });
        expect(err.message).toBe(`${dbName}: the statement did not finish within 1000 ms`);
        await locker.query('UNLOCK TABLES');
        await hurried.removeDestination(lb, d.tag);
      } finally {
        await locker.end();
        await hurried.close();
      }
    });

    it('reports a JSON-RPC error and an unreachable JSON-RPC endpoint', async () => {
      const unknown = await failure(adapter.reload({ ...lb, reloadMethod: 'no.such_method' }));
      expect(unknown.details).toMatchObject({ reason: 'BAD_RESPONSE', retryable: false });
      expect(unknown.message).toMatch(new RegExp(`^Kamailio dispatcher JSON-RPC ${kamailio.rpcUrl.replace(/[.]/g, '\\.')}: no\\.such_method failed: `));
      const port = await freeTcpPort();
      const rpcUrl = `http://127.0.0.1:${port}/RPC`;
      const down = await failure(adapter.reload({ ...lb, rpcUrl }));
      expect(down.message).toBe(`Kamailio dispatcher JSON-RPC ${rpcUrl}: no answer (the connection failed, was cut or timed out; the broker's log has the cause)`);
      expect(down.details).toMatchObject({ reason: 'NO_ANSWER', retryable: true });
      const bogus = await failure(adapter.reload({ ...lb, reloadMethod: 'x"}, {"method":"core.kill' }));
      expect(bogus.message).toContain('is not a JSON-RPC method name');
    });
  });
});
