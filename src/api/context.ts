/** Per-request (or per-WebSocket) context: the caller and the services. */
import { Logger } from 'pino';
import { UnauthenticatedError } from '../domain/errors';
import { Principal } from '../domain/principal';
import type { Services } from '../services';

export interface ApiContext {
  principal: Principal | null;
  services: Services;
  logger: Logger;
}

/** The caller, or UNAUTHENTICATED: every operation except none needs one. */
export function callerOf(ctx: ApiContext): Principal {
  if (!ctx.principal) throw new UnauthenticatedError();
  return ctx.principal;
}
