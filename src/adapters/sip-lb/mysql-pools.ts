/**
 * One small mysql2 pool per load-balancer database, on the address the endpoint policy allowed:
 * the host is resolved and judged before every use, and a pool is bound to that checked IP, so a
 * changed DNS answer gets a new (checked) pool rather than a connection to somewhere else.
 * Pools are bounded (connections, queue, count of pools) and every query has a timeout.
 */
import { createHash } from 'node:crypto';
import mysql, { type Pool, type PoolOptions } from 'mysql2/promise';
import type { EndpointPolicy } from '../../domain/endpoint-policy';
import type { SipLoadBalancerConnection } from '../../ports/sip-load-balancer.port';
import { resolveEndpoint } from '../net/guarded-transport';
import { connectionError } from '../net/integration-error';

export interface MysqlPoolsOptions {
  policy: EndpointPolicy;
  /** TCP connect and MySQL handshake (default 10 s). */
  connectTimeoutMs: number;
  /** Connections per balancer (default 2: a step inserts one row; the poller does not touch it). */
  connectionsPerBalancer: number;
  /** Most pools kept open; the least recently used is closed beyond it (default 32). */
  maxPools: number;
}

interface Entry {
  pool: Pool;
  lastUsed: number;
}

export class MysqlPools {
  private readonly pools = new Map<string, Entry>();

  constructor(private readonly options: MysqlPoolsOptions) {}

  /** The pool for this balancer's database, on a checked address. */
  async poolFor(lb: SipLoadBalancerConnection, server: string): Promise<Pool> {
    let address: string;
    try {
      [address] = (await resolveEndpoint(this.options.policy, lb.db.host, this.options.connectTimeoutMs, 'integration endpoints')) as [string];
    } catch (err) {
      throw connectionError(server, err);
    }
    // The password only as a digest: the key says "same account", it need not hold the secret.
    const secret = createHash('sha256').update(lb.db.password).digest('hex');
    const key = JSON.stringify([address, lb.db.port, lb.db.user, lb.db.database, secret]);
    const found = this.pools.get(key);
    if (found) {
      found.lastUsed = Date.now();
      return found.pool;
    }
    const options: PoolOptions = {
      host: address,
      port: lb.db.port,
      user: lb.db.user,
      password: lb.db.password,
      database: lb.db.database,
      connectionLimit: this.options.connectionsPerBalancer,
      maxIdle: 1,
      idleTimeout: 60_000,
      // Callers beyond this wait in the queue; beyond the queue they fail at once instead of piling up.
      queueLimit: 32,
      connectTimeout: this.options.connectTimeoutMs,
      enableKeepAlive: true,
      charset: 'utf8mb4',
      // Nothing but parameter placeholders: no multiple statements, no local files.
      multipleStatements: false,
    };
    const pool = mysql.createPool(options);
    // A value too long for its column is an error, not a silent truncation (a cut tag would defeat idempotency).
    pool.pool.on('connection', (conn) => {
      // If this fails the connection is unusable anyway, and the caller's own query reports why.
      conn.query("SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, 'STRICT_ALL_TABLES')", () => undefined);
    });
    this.pools.set(key, { pool, lastUsed: Date.now() });
    await this.evict();
    return pool;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((e) => e.pool.end().catch(() => undefined)));
  }

  private async evict(): Promise<void> {
    while (this.pools.size > this.options.maxPools) {
      const [oldestKey, oldest] = [...this.pools.entries()].reduce((a, b) => (b[1].lastUsed < a[1].lastUsed ? b : a));
      this.pools.delete(oldestKey);
      await oldest.pool.end().catch(() => undefined);
    }
  }
}
