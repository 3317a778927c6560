/**
 * Finding: updateCloud that changed authUrl (or region) without new credentials decrypted the
 * stored credentials and POSTed them to the new URL, with only a PARTNER token. Now a new
 * destination needs freshly supplied credentials, and stored credentials are sealed with the URL
 * they were given for: every path that decrypts them (sessions, the health probe, the clone
 * runner, all through CloudService.connectionOf) refuses to send them anywhere else. A plain
 * HTTP listener on loopback records whatever reaches it.
 */
import crypto from 'node:crypto';
import { Sandbox, SandboxCloud } from '../../sandbox';
import { NEW_DESTINATION_RULE } from '../../src/services/cloud.service';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { RecordingListener, startRecordingListener } from '../support/listeners';
import { passwordCredentials, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { createTenantWithToken, TenantToken } from '../support/tenants';
import { waitFor } from '../support/wait';

const UPDATE = `mutation($id: ID!, $input: UpdateCloudInput!) { updateCloud(id: $id, input: $input) { id authUrl region credentialKind } }`;
const SERVERS = `query($c: ID!) { cloudServers(cloudId: $c) { id } }`;


describe('stored credentials stay where their owner sent them', () => {
  let sandbox: Sandbox;
  let home: SandboxCloud;
  let db: TestDatabase;
  let broker: TestBroker;
  let partner: TenantToken;
  let recorder: RecordingListener;
  let cloudId: string;
  let storedPassword: string;

  const row = async () => (await broker.dataSource.query('SELECT auth_url, region FROM clouds WHERE id = $1', [cloudId]))[0] as { auth_url: string; region: string };

  beforeAll(async () => {
    // A password that appears nowhere else, so finding it in a recording means it was sent.
    const users = [{ name: 'admin', password: `stored-${crypto.randomBytes(8).toString('hex')}`, projects: [{ name: 'admin', roles: ['admin'] }] }];
    sandbox = await startSandboxClouds({ name: 'cred-home', users });
    home = sandbox.cloud('cred-home');
    storedPassword = home.credentials.password.password;
    recorder = await startRecordingListener();
    db = await createTestDatabase();
    // Probing every second: the health probe is one of the paths that decrypts credentials.
    broker = await startTestBroker(db.url, { CLOUD_HEALTH_INTERVAL_SECONDS: '1' });
    partner = await createTenantWithToken(broker.url, broker.adminToken, 'cred-partner', 'PARTNER');
    cloudId = (await gqlOk(broker.url, partner.token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, { input: registerCloudInput(home, 'cred-cloud') }))
      .registerCloud.id;
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await recorder?.close();
    await sandbox?.stop();
  });

  it('refuses a new authUrl without new credentials, before anything is sent anywhere', async () => {
    expect(storedPassword).toMatch(/^stored-/);
    const err = await gqlError(broker.url, partner.token, UPDATE, { id: cloudId, input: { authUrl: `${recorder.url}/v3` } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.credentials', rule: NEW_DESTINATION_RULE });
    expect(recorder.requests).toEqual([]);
    expect((await row()).auth_url).toBe(home.authUrl);
  });

  it('refuses a new region without new credentials', async () => {
    const err = await gqlError(broker.url, partner.token, UPDATE, { id: cloudId, input: { region: 'RegionTwo' } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.credentials', rule: NEW_DESTINATION_RULE });
    expect((await row()).region).toBe(home.region);
  });

  it('with new credentials only those go to the new URL; when it refuses them nothing changes', async () => {
    const fresh = { ...passwordCredentials(home), password: 'fresh-for-the-new-url' };
    const err = await gqlError(broker.url, partner.token, UPDATE, { id: cloudId, input: { authUrl: `${recorder.url}/v3`, credentials: fresh } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.credentials' });
    expect(recorder.everything()).toContain('fresh-for-the-new-url');
    expect(recorder.everything()).not.toContain(storedPassword);
    expect((await row()).auth_url).toBe(home.authUrl);
    expect((await gqlOk(broker.url, partner.token, SERVERS, { c: cloudId })).cloudServers).toEqual([]);
  });

  it('an unchanged authUrl needs no credentials', async () => {
    const { updateCloud } = await gqlOk(broker.url, partner.token, UPDATE, { id: cloudId, input: { authUrl: `${home.authUrl}/`, region: home.region } });
    expect(updateCloud).toMatchObject({ authUrl: home.authUrl, region: home.region });
  });

  it('a row whose authUrl changed behind the API gets nothing: cloudServers and the health probe refuse to send the stored credentials', async () => {
    recorder.requests.length = 0;
    await broker.dataSource.query('UPDATE clouds SET auth_url = $2 WHERE id = $1', [cloudId, `${recorder.url}/v3`]);
    try {
      const err = await gqlError(broker.url, partner.token, SERVERS, { c: cloudId });
      expect(err.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(err.message).toContain('its stored credentials were given for another Keystone URL');
      const probed = await waitFor(async () => {
        const { cloud } = await gqlOk(broker.url, partner.token, `query($id: ID!) { cloud(id: $id) { health healthMessage } }`, { id: cloudId });
        return cloud.health === 'UNREACHABLE' && cloud;
      }, 'the probe to refuse the moved cloud');
      expect(probed.healthMessage).toContain('its stored credentials were given for another Keystone URL');
      expect(recorder.requests).toEqual([]);
    } finally {
      await broker.dataSource.query('UPDATE clouds SET auth_url = $2 WHERE id = $1', [cloudId, home.authUrl]);
    }
  });
});
