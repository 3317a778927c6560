/**
 * The options a caller may pass for one sandbox cloud (programmatic API, CLI config file and
 * control API all share these schemas), validated once with readable messages.
 */
import { z } from 'zod';
import { cidrContains, ipToInt, isLoopback, parseCidr } from './address';

const nonNegativeInt = z.number().int().min(0);

export const addressPoolSchema = z
  .object({
    /** The subnet the pool lives in, shown as the Neutron subnet's cidr. Must be inside 127.0.0.0/8. */
    cidr: z.string(),
    /** First and last address handed out (defaults: .10 and the last address before broadcast). */
    start: z.string().optional(),
    end: z.string().optional(),
  })
  .strict()
  .superRefine((pool, ctx) => {
    try {
      const cidr = parseCidr(pool.cidr);
      if (!isLoopback(pool.cidr)) ctx.addIssue({ code: 'custom', message: `pool ${pool.cidr} must be inside 127.0.0.0/8` });
      for (const bound of [pool.start, pool.end]) {
        if (bound !== undefined && !cidrContains(cidr, ipToInt(bound))) {
          ctx.addIssue({ code: 'custom', message: `${bound} is not inside ${pool.cidr}` });
        }
      }
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
export type AddressPoolOptions = z.infer<typeof addressPoolSchema>;

export const latencySchema = z
  .object({
    /** Added to every API call before it is handled. */
    apiMs: nonNegativeInt,
    /** BUILD -> ACTIVE. */
    bootMs: nonNegativeInt,
    /** DELETE accepted -> server gone (404). */
    deleteMs: nonNegativeInt,
    /** createImage accepted -> image upload starts (the copy itself then takes real time). */
    snapshotMs: nonNegativeInt,
    /** Floating IP associated -> shown in the server's addresses and status ACTIVE. */
    floatingIpMs: nonNegativeInt,
  })
  .strict();
export type Latency = z.infer<typeof latencySchema>;

export const bandwidthSchema = z
  .object({
    /** Glance upload (PUT .../file) rate limit for the whole cloud, bytes per second; null = unlimited. */
    uploadBytesPerSecond: z.number().int().positive().nullable(),
    /** Glance download (GET .../file) rate limit for the whole cloud, bytes per second; null = unlimited. */
    downloadBytesPerSecond: z.number().int().positive().nullable(),
  })
  .strict();
export type Bandwidth = z.infer<typeof bandwidthSchema>;

export const quotasSchema = z
  .object({
    instances: nonNegativeInt,
    cores: nonNegativeInt,
    ramMb: nonNegativeInt,
    floatingIps: nonNegativeInt,
  })
  .strict();
export type Quotas = z.infer<typeof quotasSchema>;

export const addressPoolsSchema = z.object({ fixed: addressPoolSchema, floating: addressPoolSchema }).strict();
export type AddressPools = z.infer<typeof addressPoolsSchema>;

/**
 * A URL the catalog advertises for a service instead of the cloud's own (every interface), so a
 * test can stage a hostile or moved catalog. Any string on purpose: what a client does with a
 * bad one is the point. null (in a patch) removes the override.
 */
const catalogUrlSchema = z.string().min(1).max(65_536);
export const catalogOverridesSchema = z
  .object({ identity: catalogUrlSchema.optional(), compute: catalogUrlSchema.optional(), image: catalogUrlSchema.optional(), network: catalogUrlSchema.optional() })
  .strict();
export type CatalogOverrides = z.infer<typeof catalogOverridesSchema>;
export const catalogOverridesPatchSchema = z
  .object({
    identity: catalogUrlSchema.nullable().optional(),
    compute: catalogUrlSchema.nullable().optional(),
    image: catalogUrlSchema.nullable().optional(),
    network: catalogUrlSchema.nullable().optional(),
  })
  .strict();
export type CatalogOverridesPatch = z.infer<typeof catalogOverridesPatchSchema>;

/** Serve HTTPS with this certificate and key (PEM files) instead of plain HTTP. */
export const tlsSchema = z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict();
export type TlsOptions = z.infer<typeof tlsSchema>;

/** What can change while the cloud runs (control API `PATCH /_sandbox/settings`). */
export const settingsPatchSchema = z
  .object({
    latency: latencySchema.partial().optional(),
    bandwidth: bandwidthSchema.partial().optional(),
    quotas: quotasSchema.partial().optional(),
    tokenLifetimeSeconds: z.number().int().positive().optional(),
    addressPools: addressPoolsSchema.partial().optional(),
    catalogOverrides: catalogOverridesPatchSchema.optional(),
  })
  .strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export const userSchema = z
  .object({
    name: z.string().min(1),
    password: z.string().min(1),
    /** Domain name; "Default" (id "default") unless given. */
    domain: z.string().optional(),
    /** Projects the user has roles on (default roles: member, reader). */
    projects: z.array(z.object({ name: z.string(), roles: z.array(z.string()).optional() }).strict()).optional(),
    /** Project an unscoped password authentication is scoped to. */
    defaultProject: z.string().optional(),
  })
  .strict();
export type UserOptions = z.infer<typeof userSchema>;

export const applicationCredentialSchema = z
  .object({
    id: z.string().optional(),
    name: z.string().optional(),
    secret: z.string().min(1),
    user: z.string(),
    project: z.string(),
  })
  .strict();
export type ApplicationCredentialOptions = z.infer<typeof applicationCredentialSchema>;

export const flavorSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    vcpus: z.number().int().positive(),
    ramMb: z.number().int().positive(),
    diskGb: z.number().int().min(0),
    extraSpecs: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type FlavorOptions = z.infer<typeof flavorSchema>;

export const seedImageSchema = z
  .object({
    name: z.string(),
    /** Generate this many bytes of deterministic pseudo-random content ... */
    sizeBytes: z.number().int().min(0).optional(),
    /** ... or copy this local file. */
    file: z.string().optional(),
    /** Seed for generated content (default: the image name). */
    seed: z.string().optional(),
    id: z.string().uuid().optional(),
    diskFormat: z.string().optional(),
    containerFormat: z.string().optional(),
    visibility: z.enum(['public', 'private', 'shared', 'community']).optional(),
    properties: z.record(z.string(), z.string()).optional(),
    tags: z.array(z.string()).optional(),
  })
  .strict()
  .refine((img) => (img.sizeBytes === undefined) !== (img.file === undefined), {
    message: 'give exactly one of sizeBytes or file',
  });
export type SeedImageOptions = z.infer<typeof seedImageSchema>;

export const cloudOptionsSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'cloud names are used as folder names: letters, digits, _ . -'),
    /** 0 (default) picks an ephemeral port. */
    port: z.number().int().min(0).max(65535).optional(),
    /** Loopback only: the sandbox is unauthenticated on its control API and must not leave this machine. */
    host: z
      .string()
      .refine((h) => h === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h), { message: 'must be a loopback address (127.x.y.z or localhost)' })
      .optional(),
    region: z.string().optional(),
    maxComputeMicroversion: z.string().regex(/^2\.\d+$/).optional(),
    users: z.array(userSchema).optional(),
    projects: z.array(z.object({ name: z.string(), domain: z.string().optional() }).strict()).optional(),
    applicationCredentials: z.array(applicationCredentialSchema).optional(),
    flavors: z.array(flavorSchema).optional(),
    availabilityZones: z.array(z.string()).min(1).optional(),
    images: z.array(seedImageSchema).optional(),
    /** Glance's `disk_formats`: the formats an image may be created with (default: all Glance knows). */
    diskFormats: z.array(z.string()).min(1).optional(),
    latency: latencySchema.partial().optional(),
    bandwidth: bandwidthSchema.partial().optional(),
    quotas: quotasSchema.partial().optional(),
    tokenLifetimeSeconds: z.number().int().positive().optional(),
    addressPools: addressPoolsSchema.partial().optional(),
    catalogOverrides: catalogOverridesSchema.optional(),
    tls: tlsSchema.optional(),
  })
  .strict();
export type CloudOptions = z.input<typeof cloudOptionsSchema>;
export type ParsedCloudOptions = z.infer<typeof cloudOptionsSchema>;

export const sandboxOptionsSchema = z
  .object({
    /** Folder for image files and server disks; each cloud gets its own subfolder, wiped at start. */
    dataDir: z.string().min(1),
    clouds: z.array(cloudOptionsSchema).min(1),
    /** pino level for the sandbox's own log (default: SANDBOX_LOG_LEVEL or "silent"). */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  })
  .strict()
  .superRefine((opts, ctx) => {
    const names = opts.clouds.map((c) => c.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) ctx.addIssue({ code: 'custom', message: `cloud name "${dup}" is used twice` });
  });
export type SandboxOptions = z.input<typeof sandboxOptionsSchema>;

/** Turns a zod failure into one line per problem, with the path, for a human at a terminal. */
export function describeZodError(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
}
