/**
 * Keystone v3: password and application-credential authentication, and the service catalog.
 * Transient failures (connection errors, 5xx, timeouts) are retried with capped backoff by the
 * shared HTTP client; the final error names the cloud, the service and the operation. Catalog
 * URLs come from the partner's Keystone: each is judged before it is kept (src/domain/endpoint-policy.ts).
 */
import { catalogDrift, missingServices, REQUIRED_SERVICES } from '../../domain/cloud-catalog';
import { CatalogEndpoint } from '../../domain/entities/cloud.entity';
import { judgeEndpointUrl } from '../../domain/endpoint-policy';
import { BadUserInputError } from '../../domain/errors';
import { CloudConnection, CloudConnector, CloudCredentials, CloudProbe, CloudVerification } from '../../ports/cloud-connector.port';
import type { CloudTransport } from './cloud-transport';
import { DEFAULT_HTTP_POLICY, OpenStackHttpClient } from './http.client';

export interface KeystoneToken {
  token: string;
  /** Keystone's clock, like expiresAt: their difference is the lifetime even when clocks disagree. */
  issuedAt: Date | null;
  expiresAt: Date;
  projectId: string;
  /** The public endpoints of the region whose URLs pass the URL rules. */
  catalog: CatalogEndpoint[];
  /** Public endpoints of the region dropped because their URL breaks a rule, with why. */
  refused: { type: string; why: string }[];
}

export interface KeystoneOptions {
  timeoutMs: number;
  attempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
}

const defaults: KeystoneOptions = { timeoutMs: 10_000, attempts: 3, backoffBaseMs: 200, backoffCapMs: 2_000 };

interface CatalogJson {
  type: string;
  endpoints: { interface: string; region_id?: string; region?: string; url: string }[];
}

/** The v3 root, whether the user gave `.../v3` or the bare Keystone URL. */
export function identityRoot(authUrl: string): string {
  const trimmed = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
}

function authBody(credentials: CloudCredentials): unknown {
  if (credentials.kind === 'APPLICATION_CREDENTIAL') {
    return {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: credentials.applicationCredentialId, secret: credentials.applicationCredentialSecret },
        },
      },
    };
  }
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: credentials.username, domain: { name: credentials.userDomainName }, password: credentials.password } },
      },
      scope: { project: { name: credentials.projectName, domain: { name: credentials.projectDomainName } } },
    },
  };
}

export async function issueToken(connection: CloudConnection, transport: CloudTransport, options: Partial<KeystoneOptions> = {}): Promise<KeystoneToken> {
  const policy = { ...defaults, ...options };
  const http = new OpenStackHttpClient(connection, { ...DEFAULT_HTTP_POLICY, ...policy }, transport.dispatcher);
  const url = `${identityRoot(connection.authUrl)}/auth/tokens`;
  const spec = { service: 'keystone', method: 'POST', operation: 'POST /auth/tokens' } as const;
  const where = http.where(spec);
  // Retrying is safe although it is a POST: a token is not a resource anyone else sees.
  const res = await http.request({ ...spec, url, json: authBody(connection.credentials), retry: 'idempotent', accept: [401, 403, 404] });
  if (res.status === 401 || res.status === 403) {
    throw new BadUserInputError('input.credentials', 'were rejected by Keystone', `${where}: credentials rejected (HTTP ${res.status})`);
  }
  if (res.status === 404) {
    throw new BadUserInputError('input.authUrl', 'is not a Keystone v3 endpoint', `${where}: HTTP 404 at ${url}`);
  }
  const token = res.header('x-subject-token');
  const body = res.json<{ token?: { issued_at?: string; expires_at?: string; project?: { id?: string }; catalog?: unknown } } | null>() ?? {};
  if (typeof token !== 'string' || typeof body.token?.expires_at !== 'string' || typeof body.token.project?.id !== 'string') {
    throw new BadUserInputError('input.credentials', 'must grant a project-scoped token', `${where}: the token is not project-scoped`);
  }
  const { catalog, refused } = publicEndpoints(body.token.catalog, connection.region, transport);
  return {
    token,
    issuedAt: body.token.issued_at ? new Date(body.token.issued_at) : null,
    expiresAt: new Date(body.token.expires_at),
    projectId: body.token.project.id,
    catalog,
    refused,
  };
}

/** Hostile input: anything not shaped like a catalog is an empty one; every URL kept passes the URL rules. */
function publicEndpoints(catalog: unknown, region: string, transport: CloudTransport): Pick<KeystoneToken, 'catalog' | 'refused'> {
  const out: KeystoneToken['catalog'] = [];
  const refused: KeystoneToken['refused'] = [];
  for (const service of Array.isArray(catalog) ? (catalog as Partial<CatalogJson>[]) : []) {
    if (typeof service?.type !== 'string' || !Array.isArray(service.endpoints)) continue;
    const ep = service.endpoints.find((e) => e?.interface === 'public' && (e.region_id ?? e.region) === region && typeof e.url === 'string');
    if (!ep) continue;
    const verdict = judgeEndpointUrl(transport.policy, ep.url);
    if (verdict.ok) out.push({ type: service.type.slice(0, 64), url: ep.url.replace(/\/+$/, '') });
    else refused.push({ type: service.type.slice(0, 64), why: verdict.why });
  }
  return { catalog: out, refused };
}

export class KeystoneCloudConnector implements CloudConnector {
  constructor(
    private readonly transport: CloudTransport,
    private readonly options: Partial<KeystoneOptions> = {},
  ) {}

  /**
   * Keystone accepts the credentials, and every endpoint the broker will use (the Keystone URL and
   * the catalog's compute, image and network endpoints) passes the endpoint policy; a refusal is
   * the user's input (input.authUrl), naming the service.
   */
  async verify(connection: CloudConnection): Promise<CloudVerification> {
    const authUrl = judgeEndpointUrl(this.transport.policy, connection.authUrl);
    if (!authUrl.ok) throw new BadUserInputError('input.authUrl', authUrl.why);
    const refusal = await this.transport.refusal(connection.authUrl);
    if (refusal) throw new BadUserInputError('input.authUrl', refusal);
    const started = Date.now();
    const token = await issueToken(connection, this.transport, this.options);
    const latencyMs = Date.now() - started;
    for (const type of REQUIRED_SERVICES) {
      const bad = token.refused.find((r) => r.type === type);
      if (bad) throw new BadUserInputError('input.authUrl', `the catalog's ${type} endpoint ${bad.why}`, `cloud ${connection.name}: the catalog's ${type} endpoint ${bad.why}`);
    }
    const missing = missingServices(token.catalog);
    if (missing.length > 0) {
      throw new BadUserInputError(
        'input.region',
        `must name a region whose catalog has public ${missing.join(', ')} endpoints`,
        `cloud ${connection.name}: region ${connection.region} has no public endpoint for ${missing.join(', ')}`,
      );
    }
    for (const type of REQUIRED_SERVICES) {
      const endpoint = token.catalog.find((e) => e.type === type)!;
      const why = await this.transport.refusal(endpoint.url);
      if (why) throw new BadUserInputError('input.authUrl', `the catalog's ${type} endpoint ${why}`, `cloud ${connection.name}: the catalog's ${type} endpoint ${why}`);
    }
    return { projectId: token.projectId, catalog: token.catalog, latencyMs };
  }

  async probe(connection: CloudConnection, timeoutMs: number): Promise<CloudProbe> {
    const started = Date.now();
    // One attempt: the probe repeats every interval anyway, and health is what the last one saw.
    const token = await issueToken(connection, this.transport, { ...this.options, timeoutMs, attempts: 1 });
    return {
      latencyMs: Date.now() - started,
      missingServices: missingServices(token.catalog),
      catalogDrift: connection.pinnedCatalog ? catalogDrift(connection.pinnedCatalog, token.catalog) : [],
    };
  }
}
