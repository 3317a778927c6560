import { Role } from './roles';

/** Who is calling: resolved from the bearer token for every request and WebSocket. */
export interface Principal {
  tokenId: string;
  tokenName: string;
  tenantId: string;
  tenantName: string;
  role: Role;
}
