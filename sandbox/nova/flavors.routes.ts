/** Flavors: list, detail, show (and extra specs), shaped per microversion. */
import type { Request, Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import type { FlavorOptions } from '../config/cloud-options.schema';
import { OpenStackError } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { atLeast, queryParam } from '../http/request-context';
import { novaLinks } from './nova-format';

export function flavorDetailView(cloud: CloudContext, req: Request, f: FlavorOptions): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: f.id,
    name: f.name,
    ram: f.ramMb,
    disk: f.diskGb,
    vcpus: f.vcpus,
    // Nova printed an empty string for "no swap" until 2.75 made it an integer.
    swap: atLeast(req, 75) ? 0 : '',
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    'os-flavor-access:is_public': true,
    rxtx_factor: 1.0,
    links: novaLinks(cloud, 'flavors', f.id),
  };
  if (atLeast(req, 55)) view.description = null;
  if (atLeast(req, 61)) view.extra_specs = { ...f.extraSpecs };
  return view;
}

export function findFlavor(cloud: CloudContext, id: string): FlavorOptions | undefined {
  return cloud.config.flavors.find((f) => f.id === id);
}

export function mountFlavors(router: Router, cloud: CloudContext): void {
  const filtered = (req: Request): FlavorOptions[] => {
    const minRam = Number(queryParam(req, 'minRam') ?? 0);
    const minDisk = Number(queryParam(req, 'minDisk') ?? 0);
    return cloud.config.flavors.filter((f) => f.ramMb >= minRam && f.diskGb >= minDisk);
  };
  router.get('/flavors', operation(cloud, 'nova.flavor.list'), (req, res) => {
    res.json({
      flavors: filtered(req).map((f) => {
        const view: Record<string, unknown> = { id: f.id, name: f.name, links: novaLinks(cloud, 'flavors', f.id) };
        if (atLeast(req, 55)) view.description = null;
        return view;
      }),
    });
  });
  router.get('/flavors/detail', operation(cloud, 'nova.flavor.list'), (req, res) => {
    res.json({ flavors: filtered(req).map((f) => flavorDetailView(cloud, req, f)) });
  });
  router.get('/flavors/:id', operation(cloud, 'nova.flavor.show'), (req, res) => {
    const flavor = findFlavor(cloud, req.params.id as string);
    if (!flavor) throw new OpenStackError(404, `Flavor ${req.params.id as string} could not be found.`);
    res.json({ flavor: flavorDetailView(cloud, req, flavor) });
  });
  router.get('/flavors/:id/os-extra_specs', operation(cloud, 'nova.flavor.show'), (req, res) => {
    const flavor = findFlavor(cloud, req.params.id as string);
    if (!flavor) throw new OpenStackError(404, `Flavor ${req.params.id as string} could not be found.`);
    res.json({ extra_specs: { ...flavor.extraSpecs } });
  });
}
