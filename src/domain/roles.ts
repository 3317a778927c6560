/** Roles of an API token and what each may do. Pure rules, no I/O. */
export enum Role {
  ADMIN = 'ADMIN',
  OPERATOR = 'OPERATOR',
  PARTNER = 'PARTNER',
  VIEWER = 'VIEWER',
}

export enum Permission {
  /** Create tenants and tokens of any tenant. */
  MANAGE_TENANTS = 'MANAGE_TENANTS',
  /** Create tokens for the caller's own tenant (never ADMIN tokens). */
  MANAGE_OWN_TOKENS = 'MANAGE_OWN_TOKENS',
  /** Register, update and deregister the tenant's clouds. */
  MANAGE_CLOUDS = 'MANAGE_CLOUDS',
  /** VM types, thresholds, policies, imports, clones, scale-down, VMs' host keys. */
  MANAGE_SCALING = 'MANAGE_SCALING',
  /** SSH keys, monitoring servers and load balancers the tenant's VM types bind to. */
  MANAGE_INTEGRATIONS = 'MANAGE_INTEGRATIONS',
  /** Push monitoring samples. */
  RECORD_SAMPLES = 'RECORD_SAMPLES',
  /** Read everything of the tenant and subscribe to its events. */
  READ = 'READ',
}

const grants: Record<Role, readonly Permission[]> = {
  [Role.ADMIN]: Object.values(Permission),
  [Role.OPERATOR]: [
    Permission.MANAGE_OWN_TOKENS,
    Permission.MANAGE_CLOUDS,
    Permission.MANAGE_SCALING,
    Permission.MANAGE_INTEGRATIONS,
    Permission.RECORD_SAMPLES,
    Permission.READ,
  ],
  [Role.PARTNER]: [Permission.MANAGE_CLOUDS, Permission.READ],
  [Role.VIEWER]: [Permission.READ],
};

export function can(role: Role, permission: Permission): boolean {
  return grants[role].includes(permission);
}

/** Roles a caller with MANAGE_OWN_TOKENS may hand out: anything but ADMIN, unless it is an admin. */
export function mayGrantRole(callerRole: Role, requested: Role): boolean {
  return callerRole === Role.ADMIN || requested !== Role.ADMIN;
}
