/**
 * What the services need to know about reaching an OpenStack cloud before they store it:
 * that its Keystone accepts the credentials, and where its services are.
 */
import { CatalogEndpoint } from '../domain/entities/cloud.entity';

export interface PasswordCredentials {
  kind: 'PASSWORD';
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
}

export interface ApplicationCredentials {
  kind: 'APPLICATION_CREDENTIAL';
  applicationCredentialId: string;
  applicationCredentialSecret: string;
}

export type CloudCredentials = PasswordCredentials | ApplicationCredentials;

export interface CloudConnection {
  /** Our id for the cloud, for log lines and error messages; null before it is stored. */
  cloudId: string | null;
  name: string;
  authUrl: string;
  region: string;
  credentials: CloudCredentials;
  /**
   * The catalog pinned when the cloud was verified: sessions use these endpoints and refuse a
   * token whose catalog differs for the services the broker uses. Null before the cloud is
   * verified (registration), when the token's catalog is what there is.
   */
  pinnedCatalog: CatalogEndpoint[] | null;
}

export interface CloudVerification {
  projectId: string;
  /** Public endpoints of the cloud's region, by service type (compute, image, network, ...). */
  catalog: CatalogEndpoint[];
  latencyMs: number;
}

/** What a health probe learns from Keystone; judging it is the domain's (src/domain/cloud-health.ts). */
export interface CloudProbe {
  latencyMs: number;
  /** Services a clone needs (compute, image, network) that the region's catalog lacks. */
  missingServices: string[];
  /** Required services whose endpoint differs from the pinned catalog (the broker refuses such tokens). */
  catalogDrift: string[];
}

export interface CloudConnector {
  /**
   * Authenticates against Keystone and reads the catalog, and checks the Keystone URL and the
   * catalog's endpoints against the endpoint policy. Throws BadUserInputError for rejected
   * credentials, a refused endpoint or an unusable catalog, UpstreamUnavailableError when unreachable.
   */
  verify(connection: CloudConnection): Promise<CloudVerification>;

  /**
   * Authenticates once (no retry) within `timeoutMs` and reports what the catalog lacks
   * rather than refusing it. Throws like `verify` when Keystone is unreachable, slower than
   * the timeout, failing (5xx) or rejecting the credentials.
   */
  probe(connection: CloudConnection, timeoutMs: number): Promise<CloudProbe>;
}
