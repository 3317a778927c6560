/**
 * `POST /servers/{id}/action`: createImage (body or Location by microversion), console output,
 * and power actions. The operation name for counting and faults follows the action in the body.
 */
import type { RequestHandler, Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import type { ServerRecord } from '../cloud/cloud.state';
import type { OperationName } from '../behaviour/operation-names';
import { newImageRecord } from '../glance/image.catalog';
import { OpenStackError } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { atLeast, getAuth } from '../http/request-context';
import { findFlavor } from './flavors.routes';
import { findServer } from './servers.routes';
import { startPowerAction, startSnapshot, type PowerAction } from './server.lifecycle';

const ACTION_OPERATIONS: Record<string, OperationName> = {
  createImage: 'nova.server.createImage',
  'os-getConsoleOutput': 'nova.server.consoleOutput',
  'os-stop': 'nova.server.powerAction',
  'os-start': 'nova.server.powerAction',
  reboot: 'nova.server.powerAction',
};

function actionName(body: unknown): string {
  if (typeof body !== 'object' || body === null || Object.keys(body).length !== 1) {
    throw new OpenStackError(400, 'Malformed request body');
  }
  return Object.keys(body)[0]!;
}

function conflict(server: ServerRecord, action: string): OpenStackError {
  return server.taskState
    ? new OpenStackError(409, `Cannot '${action}' instance ${server.id} while it is in task_state ${server.taskState}`)
    : new OpenStackError(409, `Cannot '${action}' instance ${server.id} while it is in vm_state ${server.vmState}`);
}

/** Nova copies the base image's properties into a snapshot, minus these, and adds its own. */
const NOT_INHERITED = new Set(['image_type', 'instance_uuid', 'base_image_ref', 'image_location', 'owner_project_name', 'owner_user_name', 'user_id', 'boot_roles']);

function snapshotRecord(cloud: CloudContext, server: ServerRecord, name: string, metadata: Record<string, string>, roles: string[], projectName: string, userName: string) {
  const image = newImageRecord(server.projectId);
  const base = cloud.state.images.get(server.imageId);
  const flavor = findFlavor(cloud, server.flavorId);
  image.name = name;
  image.visibility = 'private';
  image.diskFormat = base?.diskFormat ?? 'raw';
  image.containerFormat = base?.containerFormat ?? 'bare';
  image.minDisk = Math.max(flavor?.diskGb ?? 0, base?.minDisk ?? 0);
  image.minRam = base?.minRam ?? 0;
  const inherited = Object.fromEntries(Object.entries(base?.properties ?? {}).filter(([k]) => !NOT_INHERITED.has(k)));
  image.properties = {
    ...inherited,
    image_type: 'snapshot',
    instance_uuid: server.id,
    base_image_ref: server.imageId,
    image_location: 'snapshot',
    user_id: server.userId,
    owner_project_name: projectName,
    owner_user_name: userName,
    boot_roles: roles.join(','),
    ...metadata,
  };
  cloud.state.images.set(image.id, image);
  return image;
}

export function mountServerActions(router: Router, cloud: CloudContext): void {
  const countAction: RequestHandler = (req, res, next) => {
    const name = ACTION_OPERATIONS[actionName(req.body)];
    if (!name) throw new OpenStackError(400, `There is no such action: ${actionName(req.body)}`);
    return operation(cloud, name)(req, res, next);
  };

  router.post('/servers/:id/action', countAction, (req, res) => {
    const server = findServer(cloud, req, req.params.id as string);
    const action = actionName(req.body);
    const args = (req.body as Record<string, unknown>)[action];
    switch (action) {
      case 'createImage': {
        const { name, metadata } = (args ?? {}) as { name?: unknown; metadata?: unknown };
        if (typeof name !== 'string' || name.trim() === '' || name.length > 255) {
          throw new OpenStackError(400, "Invalid input for field/attribute createImage. 'name' is a required property");
        }
        if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null || Object.values(metadata).some((v) => typeof v !== 'string'))) {
          throw new OpenStackError(400, 'Invalid input for field/attribute metadata.');
        }
        if (server.deleting || server.taskState || !['ACTIVE', 'SHUTOFF'].includes(server.status)) throw conflict(server, 'createImage');
        const auth = getAuth(req);
        const image = snapshotRecord(cloud, server, name, (metadata ?? {}) as Record<string, string>, auth.roles, auth.projectName, auth.userName);
        startSnapshot(cloud, server, image);
        if (atLeast(req, 45)) {
          res.status(202).json({ image_id: image.id });
        } else {
          res.setHeader('Location', `${cloud.urls.image}/v2/images/${image.id}`);
          res.status(202).end();
        }
        return;
      }
      case 'os-getConsoleOutput': {
        if (!['ACTIVE', 'SHUTOFF', 'REBOOT'].includes(server.status)) throw conflict(server, 'get_console_output');
        const length = (args as { length?: unknown } | null)?.length;
        const lines = length === undefined || length === null || Number(length) < 0 ? server.consoleLog : server.consoleLog.slice(-Number(length));
        res.json({ output: lines.join('\n') });
        return;
      }
      default: {
        const expected = action === 'os-start' ? 'SHUTOFF' : 'ACTIVE';
        if (server.deleting || server.taskState || server.status !== expected) throw conflict(server, action);
        startPowerAction(cloud, server, action as PowerAction);
        res.status(202).end();
      }
    }
  });
}
