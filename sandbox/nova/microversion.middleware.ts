/**
 * Compute microversion negotiation: `OpenStack-API-Version: compute X.Y` (or the legacy
 * `X-OpenStack-Nova-API-Version: X.Y`), "latest", 406 outside [2.1, max], and the reply
 * headers Nova always sends so clients can see what they got.
 */
import type { RequestHandler } from 'express';
import { OpenStackError } from '../http/openstack-error';
import { setMicroversion } from '../http/request-context';

export function parseVersion(text: string): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)$/.exec(text.trim());
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** The requested compute version from either header; undefined when none was sent. */
function requested(standard: string | undefined, legacy: string | undefined): string | undefined {
  if (standard) {
    for (const part of standard.split(',')) {
      const [service, version] = part.trim().split(/\s+/);
      if (service?.toLowerCase() === 'compute' && version) return version;
    }
  }
  return legacy?.trim() || undefined;
}

export function microversion(max: string): RequestHandler {
  const maxVersion = parseVersion(max)!;
  return (req, res, next) => {
    res.setHeader('Vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
    const wanted = requested(req.get('openstack-api-version'), req.get('x-openstack-nova-api-version'));
    let version: [number, number] = [2, 1];
    if (wanted?.toLowerCase() === 'latest') version = maxVersion;
    else if (wanted !== undefined) {
      const parsed = parseVersion(wanted);
      if (!parsed) return next(new OpenStackError(400, `API Version String ${wanted} is of invalid format. Must be of format MajorNum.MinorNum.`));
      if (parsed[0] !== 2 || parsed[1] < 1 || parsed[1] > maxVersion[1]) {
        return next(new OpenStackError(406, `Version ${wanted} is not supported by the API. Minimum is 2.1 and maximum is ${max}.`));
      }
      version = parsed;
    }
    const text = `${version[0]}.${version[1]}`;
    res.setHeader('OpenStack-API-Version', `compute ${text}`);
    res.setHeader('X-OpenStack-Nova-API-Version', text);
    setMicroversion(req, version);
    next();
  };
}
