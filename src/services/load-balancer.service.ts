/**
 * A tenant's SIP load balancers: the MySQL/MariaDB table of destinations (Kamailio `dispatcher`
 * or OpenSIPS `load_balancer`) and the JSON-RPC endpoint that reloads it. The database password is
 * sealed with the server and user it was given for, only ever sent there, and never returned.
 */
import { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { LoadBalancerEntity } from '../domain/entities';
import { LoadBalancerKind } from '../domain/enums';
import { BadUserInputError, ConflictError, DomainError, ErrorCode, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { SecretBox } from '../ports/secret-box.port';
import { SipLoadBalancerConnection } from '../ports/sip-load-balancer.port';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { hostRule, httpUrlRule, portRule, rpcMethodRule, secretRule, sqlIdentifierRule } from './integration-rules';
import { assertUnused, isForeignKeyViolation, vmTypesUsing } from './integration-usage';
import { nameRule, parseInput, uuidRule } from './validation';

/** What each kind of balancer uses unless the tenant says otherwise. */
export const LOAD_BALANCER_DEFAULTS = {
  [LoadBalancerKind.KAMAILIO_DISPATCHER]: { table: 'dispatcher', reloadMethod: 'dispatcher.reload', listMethod: 'dispatcher.list' },
  [LoadBalancerKind.OPENSIPS_LOAD_BALANCER]: { table: 'load_balancer', reloadMethod: 'lb_reload', listMethod: null },
} satisfies Record<LoadBalancerKind, { table: string; reloadMethod: string; listMethod: string | null }>;

const db = {
  host: hostRule,
  port: portRule,
  // MariaDB user names are at most 80 characters; they travel as protocol fields, not SQL.
  user: secretRule({ min: 1, max: 80 }),
  // An empty password is a MariaDB account without one (a lab's root).
  password: secretRule({ min: 0, max: 1024 }),
  database: sqlIdentifierRule,
};

const fields = {
  name: nameRule,
  kind: z.nativeEnum(LoadBalancerKind),
  table: sqlIdentifierRule,
  rpcUrl: httpUrlRule('the JSON-RPC endpoint, e.g. http://10.0.0.2:5080/RPC'),
  reloadMethod: rpcMethodRule,
  // null: the balancer has no list call; the step re-reads the table instead.
  listMethod: rpcMethodRule.nullable(),
};

const registerRule = z.object({
  ...fields,
  db: z.object({ ...db, port: db.port.default(3306) }),
  table: fields.table.optional(),
  reloadMethod: fields.reloadMethod.optional(),
  listMethod: fields.listMethod.optional(),
});

const updateRule = z.object({ ...fields, db: z.object(db).partial() }).partial();

interface SealedPassword {
  v: 1;
  host: string;
  port: number;
  user: string;
  password: string;
}

export const NEW_DB_SERVER_RULE = 'must be given again when db.host, db.port or db.user changes: the stored password is only ever sent to the server and user it was given for';

export class LoadBalancerService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly secrets: SecretBox,
    private readonly audit: AuditService,
  ) {}

  async list(principal: Principal): Promise<LoadBalancerEntity[]> {
    requirePermission(principal, Permission.READ);
    return this.dataSource.getRepository(LoadBalancerEntity).find({ where: { tenantId: principal.tenantId }, order: { name: 'ASC' } });
  }

  async get(principal: Principal, id: string, field = 'id'): Promise<LoadBalancerEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, field);
    const lb = await this.dataSource.getRepository(LoadBalancerEntity).findOne({ where: { id, tenantId: principal.tenantId } });
    if (!lb) throw new NotFoundError('LoadBalancer', id);
    return lb;
  }

  async register(principal: Principal, rawInput: unknown): Promise<LoadBalancerEntity> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const input = parseInput(registerRule, rawInput, 'input');
    const defaults = LOAD_BALANCER_DEFAULTS[input.kind];
    return this.dataSource.transaction(async (tx) => {
      await this.assertNameFree(tx, principal.tenantId, input.name, null);
      const lb = await tx.save(
        tx.create(LoadBalancerEntity, {
          tenantId: principal.tenantId,
          name: input.name,
          kind: input.kind,
          dbHost: input.db.host,
          dbPort: input.db.port,
          dbUser: input.db.user,
          dbName: input.db.database,
          dbPasswordCiphertext: this.seal(input.db.host, input.db.port, input.db.user, input.db.password),
          tableName: input.table ?? defaults.table,
          rpcUrl: input.rpcUrl,
          reloadMethod: input.reloadMethod ?? defaults.reloadMethod,
          listMethod: input.listMethod === undefined ? defaults.listMethod : input.listMethod,
        }),
      );
      await this.audit.record(tx, principal, principal.tenantId, 'loadBalancer.register', 'LoadBalancer', lb.id, {
        name: lb.name,
        kind: lb.kind,
        db: { host: lb.dbHost, port: lb.dbPort, user: lb.dbUser, database: lb.dbName, table: lb.tableName },
        rpcUrl: lb.rpcUrl,
      });
      return lb;
    });
  }

  /**
   * Omitted fields stay, except that a new kind brings its own defaults for the table and methods
   * not given. A new db.host, db.port or db.user needs db.password again.
   */
  async update(principal: Principal, id: string, rawInput: unknown): Promise<LoadBalancerEntity> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const lb = await this.get(principal, id);
    const input = parseInput(updateRule, rawInput, 'input');
    const next = { host: input.db?.host ?? lb.dbHost, port: input.db?.port ?? lb.dbPort, user: input.db?.user ?? lb.dbUser };
    const movesPassword = next.host !== lb.dbHost || next.port !== lb.dbPort || next.user !== lb.dbUser;
    if (movesPassword && input.db?.password === undefined) throw new BadUserInputError('input.db.password', NEW_DB_SERVER_RULE);
    return this.dataSource.transaction(async (tx) => {
      if (input.name !== undefined) {
        await this.assertNameFree(tx, principal.tenantId, input.name, lb.id);
        lb.name = input.name;
      }
      if (input.kind !== undefined && input.kind !== lb.kind) {
        const defaults = LOAD_BALANCER_DEFAULTS[input.kind];
        lb.kind = input.kind;
        lb.tableName = defaults.table;
        lb.reloadMethod = defaults.reloadMethod;
        lb.listMethod = defaults.listMethod;
      }
      if (input.table !== undefined) lb.tableName = input.table;
      if (input.rpcUrl !== undefined) lb.rpcUrl = input.rpcUrl;
      if (input.reloadMethod !== undefined) lb.reloadMethod = input.reloadMethod;
      if (input.listMethod !== undefined) lb.listMethod = input.listMethod;
      if (input.db?.database !== undefined) lb.dbName = input.db.database;
      Object.assign(lb, { dbHost: next.host, dbPort: next.port, dbUser: next.user });
      if (input.db?.password !== undefined) lb.dbPasswordCiphertext = this.seal(next.host, next.port, next.user, input.db.password);
      const saved = await tx.save(lb);
      await this.audit.record(tx, principal, principal.tenantId, 'loadBalancer.update', 'LoadBalancer', lb.id, {
        changed: Object.keys(input).flatMap((k) => (k === 'db' ? Object.keys(input.db ?? {}).filter((d) => d !== 'password').map((d) => `db.${d}`) : [k])),
        passwordChanged: input.db?.password !== undefined,
      });
      return saved;
    });
  }

  /** Refused (CONFLICT, naming them) while VM types are bound to the balancer. */
  async delete(principal: Principal, id: string): Promise<boolean> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const lb = await this.get(principal, id);
    try {
      return await this.dataSource.transaction(async (tx) => {
        assertUnused(`load balancer "${lb.name}"`, { 'VM type': await vmTypesUsing(tx, 'load_balancer_id', lb.id) });
        await tx.delete(LoadBalancerEntity, { id: lb.id });
        await this.audit.record(tx, principal, principal.tenantId, 'loadBalancer.delete', 'LoadBalancer', lb.id, { name: lb.name });
        return true;
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new ConflictError(`load balancer "${lb.name}" was just bound to a VM type: unbind it there first`);
      throw err;
    }
  }


  /** The decrypted connection, for the LOAD_BALANCER and scale-down steps only: never return it through the API. */
  connectionOf(lb: LoadBalancerEntity): SipLoadBalancerConnection {
    let sealed: SealedPassword;
    try {
      sealed = JSON.parse(this.secrets.open(lb.dbPasswordCiphertext).toString('utf8')) as SealedPassword;
    } catch {
      throw new DomainError(ErrorCode.INTERNAL, `the stored password of load balancer ${lb.name} (${lb.id}) cannot be opened: sealed with a different INTERCLOUD_SECRET_KEY`, {
        loadBalancerId: lb.id,
      });
    }
    if (sealed.host !== lb.dbHost || sealed.port !== lb.dbPort || sealed.user !== lb.dbUser) {
      throw new DomainError(ErrorCode.INTERNAL, `load balancer ${lb.name} (${lb.id}): its password was given for another database server or user and is not sent to ${lb.dbHost}:${lb.dbPort}`, {
        loadBalancerId: lb.id,
      });
    }
    return {
      kind: lb.kind,
      db: { host: lb.dbHost, port: lb.dbPort, user: lb.dbUser, password: sealed.password, database: lb.dbName },
      table: lb.tableName,
      rpcUrl: lb.rpcUrl,
      reloadMethod: lb.reloadMethod,
      listMethod: lb.listMethod,
    };
  }

  private seal(host: string, port: number, user: string, password: string): Buffer {
    const sealed: SealedPassword = { v: 1, host, port, user, password };
    return this.secrets.seal(JSON.stringify(sealed));
  }

  private async assertNameFree(tx: EntityManager, tenantId: string, name: string, exceptId: string | null): Promise<void> {
    const existing = await tx.findOne(LoadBalancerEntity, { where: { tenantId, name } });
    if (existing && existing.id !== exceptId) throw new ConflictError(`a load balancer named "${name}" already exists`, { field: 'input.name' });
  }
}
