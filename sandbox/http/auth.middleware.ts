/**
 * The keystonemiddleware part of every service: a valid, unexpired, project-scoped
 * `X-Auth-Token` or a 401 that points at Keystone.
 */
import type { RequestHandler } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { UnauthorizedError } from './openstack-error';
import { setAuth } from './request-context';

export function requireToken(cloud: CloudContext): RequestHandler {
  return (req, _res, next) => {
    const token = req.get('x-auth-token');
    const record = token ? cloud.tokens.validate(token) : undefined;
    if (!token || !record || !record.project) return next(new UnauthorizedError(cloud.urls.identity));
    setAuth(req, {
      token,
      userId: record.user.id,
      userName: record.user.name,
      projectId: record.project.id,
      projectName: record.project.name,
      roles: record.roles.map((r) => r.name),
      isAdmin: record.roles.some((r) => r.name === 'admin'),
    });
    next();
  };
}
