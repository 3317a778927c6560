/**
 * Who uses an integration (SSH key, monitoring server, load balancer): an integration in use
 * cannot be deleted. The names are checked first for a clear CONFLICT; the foreign keys behind
 * them catch a VM type bound in the same instant.
 */
import { EntityManager, QueryFailedError } from 'typeorm';
import { ConflictError } from '../domain/errors';

export interface Users {
  /** What uses it, e.g. "VM type" -> its names. */
  [kind: string]: string[];
}

/** Names of the VM types whose `column` (ssh_key_id, monitoring_server_id, load_balancer_id) is `id`. */
export async function vmTypesUsing(tx: EntityManager, column: 'ssh_key_id' | 'monitoring_server_id' | 'load_balancer_id', id: string): Promise<string[]> {
  const rows: { name: string }[] = await tx.query(`SELECT name FROM vm_types WHERE ${column} = $1 ORDER BY name`, [id]);
  return rows.map((r) => r.name);
}

/** CONFLICT naming every user, when there is one. */
export function assertUnused(what: string, users: Users): void {
  const parts = Object.entries(users)
    .filter(([, names]) => names.length > 0)
    .map(([kind, names]) => `${kind}${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')}`);
  if (parts.length > 0) throw new ConflictError(`${what} is in use by ${parts.join(' and ')}: unbind it there first`, { users });
}

/** PostgreSQL's foreign_key_violation (a row still referenced, or a reference to a row gone). */
export function isForeignKeyViolation(err: unknown): boolean {
  return err instanceof QueryFailedError && (err.driverError as { code?: string } | undefined)?.code === '23503';
}
