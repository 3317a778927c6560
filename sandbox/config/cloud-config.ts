/**
 * Turns validated options into a complete cloud configuration: every default in one place,
 * so the README and the code cannot disagree about what a bare `{ name }` cloud looks like.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { DISK_FORMATS } from '../glance/image-attributes';
import type {
  AddressPools,
  Bandwidth,
  CatalogOverrides,
  FlavorOptions,
  Latency,
  ParsedCloudOptions,
  Quotas,
  SeedImageOptions,
  TlsOptions,
} from './cloud-options.schema';

export interface CloudSettings {
  latency: Latency;
  bandwidth: Bandwidth;
  quotas: Quotas;
  tokenLifetimeSeconds: number;
  addressPools: AddressPools;
  /** Catalog URLs advertised instead of the cloud's own, per service type. */
  catalogOverrides: CatalogOverrides;
}

export interface ResolvedUser {
  name: string;
  password: string;
  domain: string;
  projects: Array<{ name: string; roles: string[] }>;
  defaultProject?: string;
}

export interface ResolvedApplicationCredential {
  id: string;
  name: string;
  secret: string;
  user: string;
  project: string;
}

export interface CloudConfig {
  name: string;
  host: string;
  port: number;
  region: string;
  dataDir: string;
  maxComputeMicroversion: string;
  users: ResolvedUser[];
  projects: Array<{ name: string; domain: string }>;
  applicationCredentials: ResolvedApplicationCredential[];
  flavors: FlavorOptions[];
  availabilityZones: string[];
  images: SeedImageOptions[];
  /** Glance's `disk_formats`: what an image may be created with. */
  diskFormats: string[];
  /** HTTPS with this certificate and key; null: plain HTTP. */
  tls: TlsOptions | null;
  settings: CloudSettings;
}

export const DEFAULT_LATENCY: Latency = { apiMs: 0, bootMs: 1000, deleteMs: 300, snapshotMs: 500, floatingIpMs: 300 };
export const DEFAULT_QUOTAS: Quotas = { instances: 10, cores: 20, ramMb: 51200, floatingIps: 50 };
export const DEFAULT_MAX_MICROVERSION = '2.79';

/** The classic devstack flavors: clients and docs everywhere assume "1" is m1.tiny. */
export const DEFAULT_FLAVORS: FlavorOptions[] = [
  { id: '1', name: 'm1.tiny', vcpus: 1, ramMb: 512, diskGb: 1 },
  { id: '2', name: 'm1.small', vcpus: 1, ramMb: 2048, diskGb: 20 },
  { id: '3', name: 'm1.medium', vcpus: 2, ramMb: 4096, diskGb: 40 },
  { id: '4', name: 'm1.large', vcpus: 4, ramMb: 8192, diskGb: 80 },
];

export const DEFAULT_IMAGE: SeedImageOptions = {
  name: 'cirros-sandbox',
  sizeBytes: 4 * 1024 * 1024,
  diskFormat: 'raw',
  containerFormat: 'bare',
  visibility: 'public',
};

/** Clouds started together get disjoint 127.0.x.0/24 pools (fixed and floating) by position. */
export function defaultAddressPools(index: number): AddressPools {
  const third = 10 + 2 * (index % 120);
  return {
    fixed: { cidr: `127.0.${third}.0/24`, start: `127.0.${third}.10`, end: `127.0.${third}.250` },
    floating: { cidr: `127.0.${third + 1}.0/24`, start: `127.0.${third + 1}.10`, end: `127.0.${third + 1}.250` },
  };
}

export function resolveCloudConfig(opts: ParsedCloudOptions, index: number, sandboxDataDir: string): CloudConfig {
  const users: ResolvedUser[] = (opts.users ?? [{ name: 'admin', password: 'admin', projects: [{ name: 'admin', roles: ['admin'] }] }]).map(
    (u) => ({
      name: u.name,
      password: u.password,
      domain: u.domain ?? 'Default',
      projects: (u.projects ?? []).map((p) => ({ name: p.name, roles: withImpliedRoles(p.roles ?? ['member']) })),
      defaultProject: u.defaultProject ?? u.projects?.[0]?.name,
    }),
  );
  const projectNames = new Set<string>([...(opts.projects ?? []).map((p) => p.name), ...users.flatMap((u) => u.projects.map((p) => p.name))]);
  const projects = [...projectNames].map((name) => ({
    name,
    domain: opts.projects?.find((p) => p.name === name)?.domain ?? 'Default',
  }));
  const applicationCredentials = (
    opts.applicationCredentials ?? [{ secret: randomBytes(24).toString('base64url'), user: users[0]!.name, project: users[0]!.projects[0]?.name ?? 'admin' }]
  ).map((c, i) => ({
    id: c.id ?? randomUUID().replace(/-/g, ''),
    name: c.name ?? `sandbox-appcred-${i + 1}`,
    secret: c.secret,
    user: c.user,
    project: c.project,
  }));
  const defaults = defaultAddressPools(index);
  return {
    name: opts.name,
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    region: opts.region ?? 'RegionOne',
    dataDir: path.join(sandboxDataDir, opts.name),
    maxComputeMicroversion: opts.maxComputeMicroversion ?? DEFAULT_MAX_MICROVERSION,
    users,
    projects,
    applicationCredentials,
    flavors: opts.flavors ?? DEFAULT_FLAVORS,
    availabilityZones: opts.availabilityZones ?? ['nova'],
    images: opts.images ?? [DEFAULT_IMAGE],
    diskFormats: opts.diskFormats ?? [...DISK_FORMATS],
    tls: opts.tls ?? null,
    settings: {
      latency: { ...DEFAULT_LATENCY, ...opts.latency },
      bandwidth: { uploadBytesPerSecond: null, downloadBytesPerSecond: null, ...opts.bandwidth },
      quotas: { ...DEFAULT_QUOTAS, ...opts.quotas },
      tokenLifetimeSeconds: opts.tokenLifetimeSeconds ?? 3600,
      addressPools: { ...defaults, ...opts.addressPools },
      catalogOverrides: { ...opts.catalogOverrides },
    },
  };
}

/** Keystone's default role hierarchy: admin implies member implies reader. */
function withImpliedRoles(roles: string[]): string[] {
  const all = new Set(roles);
  if (all.has('admin')) all.add('member');
  if (all.has('member')) all.add('reader');
  return [...all];
}
