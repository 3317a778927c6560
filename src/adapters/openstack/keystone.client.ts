/**
 * Keystone v3: password and application-credential authentication, and the service catalog.
 * Transient failures (connection errors, 5xx, timeouts) are retried with capped backoff by the
 * shared HTTP client; the final error names the cloud, the service and the operation.
 */
import { type Dispatcher, getGlobalDispatcher } from 'undici';
import { CatalogEndpoint } from '../../domain/entities/cloud.entity';
import { BadUserInputError } from '../../domain/errors';
import { CloudConnection, CloudConnector, CloudCredentials, CloudProbe, CloudVerification } from '../../ports/cloud-connector.port';
import { DEFAULT_HTTP_POLICY, OpenStackHttpClient } from './http.client';

export interface KeystoneToken {
  token: string;
  /** Keystone's clock, like expiresAt: their difference is the lifetime even when clocks disagree. */
  issuedAt: Date | null;
  expiresAt: Date;
  projectId: string;
  catalog: CatalogEndpoint[];
}

export interface KeystoneOptions {
  timeoutMs: number;
  attempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Connection pool to use (default: undici's global one). */
  dispatcher?: Dispatcher;
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

export async function issueToken(connection: CloudConnection, options: Partial<KeystoneOptions> = {}): Promise<KeystoneToken> {
  const { dispatcher, ...policy } = { ...defaults, ...options };
  const http = new OpenStackHttpClient(connection, { ...DEFAULT_HTTP_POLICY, ...policy }, dispatcher ?? getGlobalDispatcher());
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
  const body = res.json<{ token?: { issued_at?: string; expires_at?: string; project?: { id?: string }; catalog?: CatalogJson[] } }>();
  if (typeof token !== 'string' || !body.token?.expires_at || !body.token.project?.id) {
    throw new BadUserInputError('input.credentials', 'must grant a project-scoped token', `${where}: the token is not project-scoped`);
  }
  return {
    token,
    issuedAt: body.token.issued_at ? new Date(body.token.issued_at) : null,
    expiresAt: new Date(body.token.expires_at),
    projectId: body.token.project.id,
    catalog: publicEndpoints(body.token.catalog ?? [], connection.region),
  };
}

function publicEndpoints(catalog: CatalogJson[], region: string): CatalogEndpoint[] {
  const out: CatalogEndpoint[] = [];
  for (const service of catalog) {
    const ep = service.endpoints.find((e) => e.interface === 'public' && (e.region_id ?? e.region) === region);
    if (ep) out.push({ type: service.type, url: ep.url.replace(/\/+$/, '') });
  }
  return out;
}

/** The services a clone needs; a cloud without them is not registered. */
const REQUIRED_SERVICES = ['compute', 'image', 'network'];

export class KeystoneCloudConnector implements CloudConnector {
  constructor(private readonly options: Partial<KeystoneOptions> = {}) {}

  async verify(connection: CloudConnection): Promise<CloudVerification> {
    const started = Date.now();
    const token = await issueToken(connection, this.options);
    const latencyMs = Date.now() - started;
    const missing = missingServices(token.catalog);
    if (missing.length > 0) {
      throw new BadUserInputError(
        'input.region',
        `must name a region whose catalog has public ${missing.join(', ')} endpoints`,
        `cloud ${connection.name}: region ${connection.region} has no public endpoint for ${missing.join(', ')}`,
      );
    }
    return { projectId: token.projectId, catalog: token.catalog, latencyMs };
  }

  async probe(connection: CloudConnection, timeoutMs: number): Promise<CloudProbe> {
    const started = Date.now();
    // One attempt: the probe repeats every interval anyway, and health is what the last one saw.
    const token = await issueToken(connection, { ...this.options, timeoutMs, attempts: 1 });
    return { latencyMs: Date.now() - started, missingServices: missingServices(token.catalog) };
  }
}

function missingServices(catalog: CatalogEndpoint[]): string[] {
  return REQUIRED_SERVICES.filter((t) => !catalog.some((e) => e.type === t));
}
