import { Role } from './roles';

/** Who is calling: resolved from the bearer token for every request and WebSocket. */
export interface Principal {
  tokenId: string;
  tokenName: string;
  tenantId: string;
  tenantName: string;
  role: Role;
}

/**
 * The token id the autoscaler acts under. It is no API token (none has this id and none can be
 * made with it): it marks, in the audit log and on the jobs it starts, that the scheduler acted.
 */
export const AUTOSCALER_TOKEN_ID = '00000000-0000-4000-8000-0000a5ca1e00';

/** The scheduler acting for one tenant: an operator of that tenant, audited under AUTOSCALER_TOKEN_ID. */
export function autoscalerPrincipal(tenantId: string, tenantName: string): Principal {
  return { tokenId: AUTOSCALER_TOKEN_ID, tokenName: 'autoscaler', tenantId, tenantName, role: Role.OPERATOR };
}
