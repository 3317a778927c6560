/** The audit log: who did what, when, to which object; also published as events per tenant. */
import { DataSource, EntityManager } from 'typeorm';
import { AuditEntryEntity } from '../domain/entities';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { BusEvent, EventBus } from '../ports/event-bus.port';
import { requirePermission } from './access';
import { pageSizeRule, parseInput } from './validation';

export interface AuditPayload {
  actorTokenId: string | null;
  action: string;
  objectType: string;
  objectId: string;
  details: Record<string, unknown>;
  at: string;
}

export const auditStream = (tenantId: string) => `audit:${tenantId}`;

export class AuditService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: EventBus,
  ) {}

  /** Call inside the transaction that makes the change, so both commit or neither. */
  async record(
    tx: EntityManager,
    actor: Principal | null,
    tenantId: string,
    action: string,
    objectType: string,
    objectId: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    const at = new Date();
    const payload: AuditPayload = { actorTokenId: actor?.tokenId ?? null, action, objectType, objectId, details, at: at.toISOString() };
    const event = await this.bus.publish(tx, { stream: auditStream(tenantId), tenantId, type: 'audit', payload });
    await tx.save(tx.create(AuditEntryEntity, { tenantId, seq: event.seq, actorTokenId: payload.actorTokenId, action, objectType, objectId, details, at }));
  }

  /** The tenant's audit events after `afterSeq`, then live ones. */
  subscribe(principal: Principal, afterSeq: number): AsyncIterableIterator<BusEvent> {
    requirePermission(principal, Permission.READ);
    return this.bus.subscribeStream(auditStream(principal.tenantId), afterSeq);
  }

  async list(principal: Principal, first: number | undefined): Promise<AuditEntryEntity[]> {
    requirePermission(principal, Permission.READ);
    return this.dataSource.getRepository(AuditEntryEntity).find({
      where: { tenantId: principal.tenantId },
      order: { id: 'DESC' },
      take: parseInput(pageSizeRule(50), first, 'first'),
    });
  }
}
