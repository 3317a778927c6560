/** Permission checks used by every service method before it touches data. */
import { Principal } from '../domain/principal';
import { ForbiddenError } from '../domain/errors';
import { can, Permission } from '../domain/roles';

export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal.role, permission)) {
    throw new ForbiddenError(`role ${principal.role} may not ${permission.toLowerCase().replace(/_/g, ' ')}`);
  }
}
