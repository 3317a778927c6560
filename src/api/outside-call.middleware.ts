/**
 * Marks a field that reaches outside the broker (Keystone verification, Nova, a clone): each
 * execution, aliased or not, counts toward the caller's rate limit (OutsideCallMeter in context.ts).
 * Put it on every such field (registerCloud, updateCloud, cloneVm, importVm, cloudServers,
 * matchmake, and verifyCloud when it lands); a charged-out execution fails with RATE_LIMITED
 * for that field only.
 */
import { MiddlewareFn } from 'type-graphql';
import { ApiContext } from './context';

export const ChargedPerExecution: MiddlewareFn<ApiContext> = ({ context }, next) => {
  context.outsideCalls.charge(context.principal);
  return next();
};
