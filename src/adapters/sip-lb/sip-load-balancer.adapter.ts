/**
 * SipLoadBalancer on a Kamailio `dispatcher` or OpenSIPS `load_balancer` table (mysql2,
 * parameterised SQL only) and the balancer's JSON-RPC reload and list. Rows are found again by
 * their tag, so a retried step never adds a second.
 */
import mysql from 'mysql2/promise';
import type { EndpointPolicy } from '../../domain/endpoint-policy';
import type { Destination, LiveDestination, SipLoadBalancer, SipLoadBalancerConnection } from '../../ports/sip-load-balancer.port';
import { GuardedTransport } from '../net/guarded-transport';
import { connectionError, errorText, integrationError } from '../net/integration-error';
import { checkDestination, checkSetAndUri, checkTable, checkTag, TABLE_SHAPES, type TableShape } from './lb-table';
import { callRpc, liveUris, RpcError } from './lb-rpc.client';
import { MysqlPools } from './mysql-pools';

export interface SipLoadBalancerAdapterOptions {
  policy: EndpointPolicy;
  /** A transport to share for the JSON-RPC calls (default: one of our own on `policy`). */
  transport?: GuardedTransport;
  /** Each SQL statement (default 15 s). */
  queryTimeoutMs?: number;
  /** TCP connect and MySQL handshake (default 10 s). */
  connectTimeoutMs?: number;
  /** Each JSON-RPC attempt (default 15 s). */
  rpcTimeoutMs?: number;
  connectionsPerBalancer?: number;
  maxPools?: number;
}

/** MySQL errors by number, as our reasons. */
const ACCESS_DENIED = new Set([1044, 1045, 1142, 1143]);
const TRANSIENT = new Set([1040, 1205, 1213, 2006, 2013]);
const MISSING: Record<number, string> = { 1049: 'no such database', 1146: 'no such table', 1054: 'the table lacks a column this kind needs' };

interface MysqlFailure {
  errno?: number;
  code?: string;
  sqlMessage?: string;
  fatal?: boolean;
}

export class SipLoadBalancerAdapter implements SipLoadBalancer {
  private readonly pools: MysqlPools;
  private readonly transport: GuardedTransport;
  private readonly ownsTransport: boolean;
  private readonly queryTimeoutMs: number;
  private readonly rpcTimeoutMs: number;

  constructor(options: SipLoadBalancerAdapterOptions) {
    this.pools = new MysqlPools({
      policy: options.policy,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      connectionsPerBalancer: options.connectionsPerBalancer ?? 2,
      maxPools: options.maxPools ?? 32,
    });
    this.ownsTransport = !options.transport;
    this.transport = options.transport ?? new GuardedTransport({ policy: options.policy, subject: 'integration endpoints', connections: 4 });
    this.queryTimeoutMs = options.queryTimeoutMs ?? 15_000;
    this.rpcTimeoutMs = options.rpcTimeoutMs ?? 15_000;
  }

  async addDestination(lb: SipLoadBalancerConnection, d: Destination): Promise<void> {
    const shape = this.shapeOf(lb);
    checkDestination(shape, d);
    const t = mysql.escapeId(checkTable(lb.table));
    const columns = [shape.set, shape.uri, shape.attrs, shape.tag, ...shape.zeros].map((c) => mysql.escapeId(c)).join(', ');
    const values = ['?', '?', '?', '?', ...shape.zeros.map(() => '0')].join(', ');
    // One statement, so two attempts with the same tag cannot both insert: INSERT ... SELECT takes
    // shared locks on the rows it reads, and the loser of a race waits, then finds the row.
    // BINARY: the tag exactly, not case- or accent-insensitively as the column's collation would.
    await this.sql(
      lb,
      shape,
      `INSERT INTO ${t} (${columns}) SELECT ${values} FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM ${t} WHERE BINARY ${mysql.escapeId(shape.tag)} = ?)`,
      [d.setId, d.uri, d.attrs, d.tag, d.tag],
    );
  }

  async removeDestination(lb: SipLoadBalancerConnection, tag: string, same?: { setId: number; uri: string }): Promise<void> {
    const shape = this.shapeOf(lb);
    checkTag(shape, tag);
    const t = mysql.escapeId(checkTable(lb.table));
    if (!same) {
      await this.sql(lb, shape, `DELETE FROM ${t} WHERE BINARY ${mysql.escapeId(shape.tag)} = ?`, [tag]);
      return;
    }
    checkSetAndUri(shape, same.setId, same.uri);
    await this.sql(
      lb,
      shape,
      `DELETE FROM ${t} WHERE BINARY ${mysql.escapeId(shape.tag)} = ? OR (${mysql.escapeId(shape.set)} = ? AND BINARY ${mysql.escapeId(shape.uri)} = ?)`,
      [tag, same.setId, same.uri],
    );
  }

  async reload(lb: SipLoadBalancerConnection): Promise<void> {
    const server = this.rpcServer(lb);
    try {
      await callRpc(this.transport, server, lb.rpcUrl, lb.reloadMethod, { timeoutMs: this.rpcTimeoutMs, attempts: 3 });
    } catch (err) {
      if (err instanceof RpcError) {
        // Kamailio says "500 Ongoing reload" within reload_delta of the last one: worth another go later.
        throw integrationError(server, 'BAD_RESPONSE', `${lb.reloadMethod} failed: ${err.rpcMessage}`, {
          retryable: /ongoing|busy|try again/i.test(err.rpcMessage),
          extra: { rpcCode: err.rpcCode },
        });
      }
      throw err;
    }
  }

  async liveDestinations(lb: SipLoadBalancerConnection): Promise<LiveDestination[]> {
    const shape = this.shapeOf(lb);
    if (!lb.listMethod) {
      // No list call (OpenSIPS without lb_list exposed): what the table says is what a reload loaded.
      const rows = await this.sql(lb, shape, `SELECT ${mysql.escapeId(shape.set)} AS setId, ${mysql.escapeId(shape.uri)} AS uri FROM ${mysql.escapeId(checkTable(lb.table))}`, []);
      return (rows as Array<{ setId: number; uri: string }>).map((r) => ({ setId: Number(r.setId), uri: r.uri }));
    }
    const server = this.rpcServer(lb);
    let result: unknown;
    try {
      result = await callRpc(this.transport, server, lb.rpcUrl, lb.listMethod, { timeoutMs: this.rpcTimeoutMs, attempts: 3 });
    } catch (err) {
      // Kamailio's way of saying "the list is empty".
      if (err instanceof RpcError && /no destination sets/i.test(err.rpcMessage)) return [];
      if (err instanceof RpcError) throw integrationError(server, 'BAD_RESPONSE', `${lb.listMethod} failed: ${err.rpcMessage}`, { extra: { rpcCode: err.rpcCode } });
      throw err;
    }
    const uris = liveUris(result);
    if (!uris) throw integrationError(server, 'BAD_RESPONSE', `${lb.listMethod} answered neither a dispatcher.list nor an lb_list result`);
    return uris;
  }

  async close(): Promise<void> {
    await this.pools.close();
    if (this.ownsTransport) await this.transport.close();
  }

  private shapeOf(lb: SipLoadBalancerConnection): TableShape {
    const shape = TABLE_SHAPES[lb.kind];
    if (!shape) throw integrationError(this.dbServer(lb), 'OPERATION_FAILED', `unknown load balancer kind ${String(lb.kind).slice(0, 40)}`);
    return shape;
  }

  /** `MySQL user@host:port/database (Kamailio dispatcher table dispatcher)`: never the password. */
  private dbServer(lb: SipLoadBalancerConnection, shape?: TableShape): string {
    const host = lb.db.host.includes(':') ? `[${lb.db.host}]` : lb.db.host;
    return `MySQL ${lb.db.user}@${host}:${lb.db.port}/${lb.db.database}${shape ? ` (${shape.label} table ${lb.table})` : ''}`;
  }

  private rpcServer(lb: SipLoadBalancerConnection): string {
    return `${TABLE_SHAPES[lb.kind]?.label ?? 'load balancer'} JSON-RPC ${lb.rpcUrl.slice(0, 200)}`;
  }

  private async sql(lb: SipLoadBalancerConnection, shape: TableShape, sql: string, values: unknown[]): Promise<unknown> {
    const server = this.dbServer(lb, shape);
    const pool = await this.pools.poolFor(lb, server);
    for (let attempt = 1; ; attempt++) {
      try {
        const [rows] = await pool.execute({ sql, values, timeout: this.queryTimeoutMs });
        return rows;
      } catch (err) {
        const e = err as MysqlFailure;
        // A deadlock or lock wait rolled our statement back: nothing happened, so once more is safe.
        if ((e.errno === 1213 || e.errno === 1205) && attempt < 3) continue;
        throw this.sqlError(server, err);
      }
    }
  }

  private sqlError(server: string, err: unknown) {
    const e = err as MysqlFailure;
    const said = (e.sqlMessage ?? '').replace(/\s+/g, ' ').slice(0, 200);
    if (e.errno !== undefined && ACCESS_DENIED.has(e.errno)) {
      return integrationError(server, 'AUTH_REFUSED', `the account was refused: ${said}`, { cause: err, extra: { errno: e.errno } });
    }
    if (e.errno !== undefined && MISSING[e.errno]) {
      return integrationError(server, 'OPERATION_FAILED', `${MISSING[e.errno]}: ${said}`, { cause: err, extra: { errno: e.errno } });
    }
    if (e.code === 'PROTOCOL_SEQUENCE_TIMEOUT') return integrationError(server, 'TIMEOUT', `the statement did not finish within ${this.queryTimeoutMs} ms`, { cause: err });
    if (e.errno !== undefined && TRANSIENT.has(e.errno)) {
      return integrationError(server, 'OPERATION_FAILED', `the server is busy or went away: ${said || e.code}`, { retryable: true, cause: err, extra: { errno: e.errno } });
    }
    if (e.sqlMessage) return integrationError(server, 'OPERATION_FAILED', said, { cause: err, extra: { errno: e.errno } });
    // No SQL answer at all: refused, reset, timed out, not MySQL.
    return connectionError(server, Object.assign(new Error(errorText(err)), { code: e.code, cause: err }));
  }
}
