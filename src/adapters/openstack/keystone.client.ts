/**
 * Keystone v3: password and application-credential authentication, and the service catalog.
 * Transient failures (connection errors, 5xx, timeouts) are retried with capped backoff; the
 * final error names the cloud, the service and the operation.
 */
import { request } from 'undici';
import { CatalogEndpoint } from '../../domain/entities/cloud.entity';
import { BadUserInputError, UpstreamUnavailableError } from '../../domain/errors';
import { CloudConnection, CloudConnector, CloudCredentials, CloudVerification } from '../../ports/cloud-connector.port';

export interface KeystoneToken {
  token: string;
  expiresAt: Date;
  projectId: string;
  catalog: CatalogEndpoint[];
}

export interface KeystoneOptions {
  timeoutMs: number;
  attempts: number;
}

const defaults: KeystoneOptions = { timeoutMs: 10_000, attempts: 3 };

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function issueToken(connection: CloudConnection, options: Partial<KeystoneOptions> = {}): Promise<KeystoneToken> {
  const { timeoutMs, attempts } = { ...defaults, ...options };
  const url = `${identityRoot(connection.authUrl)}/auth/tokens`;
  const where = `cloud ${connection.name}${connection.cloudId ? ` (${connection.cloudId})` : ''}: keystone POST /auth/tokens`;
  let lastProblem = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let res;
    try {
      res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(authBody(connection.credentials)),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      lastProblem = err instanceof Error ? err.message : String(err);
      if (attempt < attempts) await sleep(Math.min(200 * 2 ** attempt, 2000));
      continue;
    }
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new BadUserInputError('input.credentials', 'were rejected by Keystone', `${where}: credentials rejected (HTTP ${res.statusCode})`);
    }
    if (res.statusCode === 404) {
      throw new BadUserInputError('input.authUrl', 'is not a Keystone v3 endpoint', `${where}: HTTP 404 at ${url}`);
    }
    if (res.statusCode >= 500) {
      lastProblem = `HTTP ${res.statusCode}`;
      if (attempt < attempts) await sleep(Math.min(200 * 2 ** attempt, 2000));
      continue;
    }
    if (res.statusCode !== 201 && res.statusCode !== 200) {
      throw new UpstreamUnavailableError(`${where}: unexpected HTTP ${res.statusCode}`, { cloudId: connection.cloudId });
    }
    const token = res.headers['x-subject-token'];
    let body: { token?: { expires_at?: string; project?: { id?: string }; catalog?: CatalogJson[] } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new UpstreamUnavailableError(`${where}: response is not JSON`, { cloudId: connection.cloudId });
    }
    if (typeof token !== 'string' || !body.token?.expires_at || !body.token.project?.id) {
      throw new BadUserInputError('input.credentials', 'must grant a project-scoped token', `${where}: the token is not project-scoped`);
    }
    return {
      token,
      expiresAt: new Date(body.token.expires_at),
      projectId: body.token.project.id,
      catalog: publicEndpoints(body.token.catalog ?? [], connection.region),
    };
  }
  throw new UpstreamUnavailableError(`${where}: unreachable after ${attempts} attempts (${lastProblem})`, { cloudId: connection.cloudId });
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
    const missing = REQUIRED_SERVICES.filter((t) => !token.catalog.some((e) => e.type === t));
    if (missing.length > 0) {
      throw new BadUserInputError(
        'input.region',
        `must name a region whose catalog has public ${missing.join(', ')} endpoints`,
        `cloud ${connection.name}: region ${connection.region} has no public endpoint for ${missing.join(', ')}`,
      );
    }
    return { projectId: token.projectId, catalog: token.catalog, latencyMs };
  }
}
