/** Reading clone jobs: one by id, or a page of the tenant's jobs, newest first, by opaque cursor. */
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { CloneJobState } from '../domain/clone-phase';
import { CloneJobEntity } from '../domain/entities';
import { BadUserInputError, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { requirePermission } from './access';
import { pageSizeRule, parseInput, uuidRule } from './validation';

export interface CloneJobPage {
  jobs: CloneJobEntity[];
  hasNextPage: boolean;
  totalCount: number;
}

const pageRule = z.object({
  state: z.nativeEnum(CloneJobState).nullable().optional(),
  first: pageSizeRule(20),
  after: z.string().max(200).nullable().optional(),
});

export function encodeCursor(job: CloneJobEntity): string {
  return Buffer.from(JSON.stringify([job.createdAt.toISOString(), job.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || !uuidRule.safeParse(id).success) throw new Error('bad cursor');
    return { createdAt, id };
  } catch {
    throw new BadUserInputError('after', 'must be a cursor returned by cloneJobs');
  }
}

export class CloneJobQueryService {
  constructor(private readonly dataSource: DataSource) {}

  async get(principal: Principal, id: string): Promise<CloneJobEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, 'id');
    const job = await this.dataSource.getRepository(CloneJobEntity).findOne({ where: { id, tenantId: principal.tenantId } });
    if (!job) throw new NotFoundError('CloneJob', id);
    return job;
  }

  async page(principal: Principal, rawArgs: unknown): Promise<CloneJobPage> {
    requirePermission(principal, Permission.READ);
    const args = parseInput(pageRule, rawArgs, '');
    const base = this.dataSource
      .getRepository(CloneJobEntity)
      .createQueryBuilder('j')
      .where('j.tenant_id = :tenantId', { tenantId: principal.tenantId });
    if (args.state) base.andWhere('j.state = :state', { state: args.state });
    const totalCount = await base.clone().getCount();
    const q = base.clone();
    if (args.after) {
      const c = decodeCursor(args.after);
      q.andWhere('(j.created_at, j.id) < (:createdAt, :id)', c);
    }
    const rows = await q.orderBy('j.created_at', 'DESC').addOrderBy('j.id', 'DESC').take(args.first + 1).getMany();
    return { jobs: rows.slice(0, args.first), hasNextPage: rows.length > args.first, totalCount };
  }
}
