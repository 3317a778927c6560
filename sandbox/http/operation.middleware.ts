/**
 * Wraps a route with the cloud's behaviour knobs, in the order a real deployment shows them:
 * the call is counted, generic API latency applies, then an injected fault (if armed) answers
 * instead of the service, as a failing proxy or crashed worker would.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OperationName } from '../behaviour/operation-names';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError } from './openstack-error';
import { requestSignal, setStreamFault } from './request-context';

const STREAMING: readonly OperationName[] = ['glance.image.upload', 'glance.image.download'];

export function operation(cloud: CloudContext, name: OperationName): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    cloud.calls.count(name);
    cloud.log.debug({ cloud: cloud.config.name, operation: name, method: req.method, url: req.originalUrl }, 'sandbox call');
    const signal = requestSignal(req, res, cloud.tasks.signal);
    const apiMs = cloud.settings.latency.apiMs;
    if (apiMs > 0) {
      try {
        await cloud.tasks.delay(apiMs);
      } catch {
        return; // the cloud is stopping; its server closes the connection
      }
    }
    const fault = cloud.faults.take(name);
    if (!fault) return next();
    cloud.log.info({ cloud: cloud.config.name, operation: name, mode: fault.mode }, 'sandbox fault injected');
    switch (fault.mode) {
      case 'fail':
        return next(new OpenStackError(fault.status, fault.message ?? defaultMessage(fault.status)));
      case 'hang':
        await cloud.faults.hold(fault, signal);
        if (signal.aborted) {
          res.destroy();
          return;
        }
        return next();
      case 'delay':
        try {
          await cloud.tasks.delay(fault.hangMs ?? 2000);
        } catch {
          return; // the cloud is stopping
        }
        return next();
      case 'hang-after': {
        const held = cloud.faults.hold(fault, signal);
        const end = res.end.bind(res) as (...args: unknown[]) => Response;
        (res as unknown as { end: (...args: unknown[]) => Response }).end = (...args: unknown[]) => {
          void held.then(() => {
            if (signal.aborted) res.destroy();
            else end(...args);
          });
          return res;
        };
        return next();
      }
      case 'abort':
        if (STREAMING.includes(name) && fault.afterBytes !== undefined) {
          setStreamFault(req, fault);
          return next();
        }
        req.socket.destroy();
        return;
    }
  };
}

function defaultMessage(status: number): string {
  return status === 503
    ? 'The server is currently unavailable. Please try again at a later time.'
    : `Injected fault: HTTP ${status}.`;
}
