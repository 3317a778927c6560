/**
 * Finding: any http:// Keystone URL was accepted, and there was no way to trust a private CA
 * short of turning verification off. Now http:// endpoints are refused unless
 * CLOUD_ALLOW_INSECURE_HTTP=true, certificates are verified (chain and host name), and
 * CLOUD_CA_FILE adds a CA bundle on top of Node's roots. Real TLS: a throwaway CA and server
 * certificates made with openssl, sandbox clouds serving HTTPS on https://localhost:PORT (the
 * connector dials the checked 127.0.0.1 and still verifies the name "localhost").
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox, SandboxCloud } from '../../sandbox';
import { NO_ANSWER } from '../../src/adapters/openstack/http.client';
import { ConfigError, loadConfig } from '../../src/config';
import { newAdminSecret, startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { captureLogs, CapturedLogs } from '../support/logs';
import { registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { createTenantWithToken, TenantToken } from '../support/tenants';
import { createTestCa, TestCa } from '../support/tls';

const REGISTER = `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id health catalog { type url } } }`;

describe('cloud endpoints over TLS', () => {
  let dir: string;
  let ca: TestCa;
  let sandbox: Sandbox;
  let good: SandboxCloud;
  let misnamed: SandboxCloud;
  let plain: SandboxCloud;
  let db: TestDatabase;
  let withoutCa: TestBroker;
  let withCa: TestBroker;
  let logs: CapturedLogs;
  let tenant: TenantToken;

  /** Production settings for TLS (no http), loopback allowed because the test's clouds live there. */
  const tlsOnly = { CLOUD_ALLOW_INSECURE_HTTP: 'false', CLOUD_ENDPOINT_ALLOW: '127.0.0.0/8', CLOUD_HEALTH_INTERVAL_SECONDS: '86400' };
  /** The broker's log lines about the upstream failure of a cloud. */
  const causesFor = (name: string) =>
    logs
      .lines()
      .filter((l) => l.msg === 'upstream failure in GraphQL operation' && String(l.err?.message).startsWith(`cloud ${name}:`))
      .map((l) => `${l.err.details?.detail} ${l.err.cause?.code ?? ''}`);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-tls-'));
    ca = createTestCa(dir);
    // Only a DNS name: were the checked IP used for the certificate check, it would fail.
    const localhost = ca.issue('localhost', ['DNS:localhost']);
    const elsewhere = ca.issue('elsewhere', ['DNS:keystone.elsewhere.example']);
    sandbox = await startSandboxClouds(
      { name: 'tls-good', host: 'localhost', tls: localhost },
      { name: 'tls-misnamed', host: 'localhost', tls: elsewhere },
      { name: 'tls-plain' },
    );
    good = sandbox.cloud('tls-good');
    misnamed = sandbox.cloud('tls-misnamed');
    plain = sandbox.cloud('tls-plain');
    db = await createTestDatabase();
    logs = captureLogs('warn');
    // Two brokers on one database, differing only in CLOUD_CA_FILE.
    const shared = { ...tlsOnly, INTERCLOUD_ADMIN_TOKEN: newAdminSecret(), INTERCLOUD_SECRET_KEY: crypto.randomBytes(32).toString('base64') };
    withoutCa = await startTestBroker(db.url, shared, { logger: logs.logger });
    withCa = await startTestBroker(db.url, { ...shared, CLONE_CONCURRENCY: '0', CLOUD_CA_FILE: ca.certFile }, { logger: logs.logger });
    tenant = await createTenantWithToken(withoutCa.url, withoutCa.adminToken, 'tls-tenant');
  });

  afterAll(async () => {
    await withCa?.stop();
    await withoutCa?.stop();
    await db?.drop();
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the sandbox serves its cloud over HTTPS, with https catalog URLs', () => {
    expect(good.authUrl).toMatch(/^https:\/\/localhost:\d+\/identity\/v3$/);
    expect(good.urls.compute).toMatch(/^https:\/\/localhost:/);
  });

  it('refuses an http:// Keystone URL unless CLOUD_ALLOW_INSECURE_HTTP=true', async () => {
    const err = await gqlError(withoutCa.url, tenant.token, REGISTER, { input: registerCloudInput(plain, 'plain-http') });
    expect(err.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.authUrl',
      rule: 'uses http://; cloud endpoints must use https:// unless the operator sets CLOUD_ALLOW_INSECURE_HTTP=true',
    });
  });

  it('refuses a certificate from a CA it does not trust (without CLOUD_CA_FILE), in the words of any connection failure', async () => {
    const err = await gqlError(withoutCa.url, tenant.token, REGISTER, { input: registerCloudInput(good, 'untrusted') });
    expect(err.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).toBe(`cloud untrusted: keystone POST /auth/tokens failed: ${NO_ANSWER}`);
    expect(causesFor('untrusted').join('\n')).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED|certificate/i);
    expect(await withoutCa.dataSource.query(`SELECT 1 FROM clouds WHERE name = 'untrusted'`)).toEqual([]);
  });

  it('accepts the same cloud with CLOUD_CA_FILE, and uses its https catalog', async () => {
    const { registerCloud } = await gqlOk(withCa.url, tenant.token, REGISTER, { input: registerCloudInput(good, 'trusted') });
    expect(registerCloud.health).toBe('HEALTHY');
    expect(registerCloud.catalog.find((e: { type: string }) => e.type === 'compute').url).toBe(good.urls.compute);
    const { cloudServers } = await gqlOk(withCa.url, tenant.token, `query($c: ID!) { cloudServers(cloudId: $c) { id } }`, { c: registerCloud.id });
    expect(cloudServers).toEqual([]);
  });

  it('still verifies the host name: a trusted certificate for another name is refused', async () => {
    const err = await gqlError(withCa.url, tenant.token, REGISTER, { input: registerCloudInput(misnamed, 'misnamed') });
    expect(err.message).toBe(`cloud misnamed: keystone POST /auth/tokens failed: ${NO_ANSWER}`);
    expect(causesFor('misnamed').join('\n')).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('checks an IP-literal https URL against the certificate: one issued for "localhost" only does not cover 127.0.0.1', async () => {
    const err = await gqlError(withCa.url, tenant.token, REGISTER, { input: registerCloudInput(good, 'by-ip', { authUrl: good.authUrl.replace('//localhost:', '//127.0.0.1:') }) });
    expect(err.message).toBe(`cloud by-ip: keystone POST /auth/tokens failed: ${NO_ANSWER}`);
    expect(causesFor('by-ip').join('\n')).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('CLOUD_CA_FILE is read and checked at start-up: a missing file or one without a certificate stops the broker naming the variable', () => {
    const notPem = path.join(dir, 'not-a-ca.txt');
    fs.writeFileSync(notPem, 'hello');
    expect(() => loadConfig({ CLOUD_CA_FILE: path.join(dir, 'missing.pem') })).toThrow(ConfigError);
    expect(() => loadConfig({ CLOUD_CA_FILE: path.join(dir, 'missing.pem') })).toThrow(/CLOUD_CA_FILE: cannot read .*missing\.pem: ENOENT/);
    expect(() => loadConfig({ CLOUD_CA_FILE: notPem })).toThrow(/CLOUD_CA_FILE: .*holds no PEM certificate/);
    expect(loadConfig({ CLOUD_CA_FILE: ca.certFile }).cloudEndpoints.ca).toContain('-----BEGIN CERTIFICATE-----');
  });
});
