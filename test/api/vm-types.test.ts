/** VM types, thresholds and policies through the real HTTP API, including tenant isolation. */
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertCloud } from '../support/fixtures';
import { gqlError, gqlOk } from '../support/graphql';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';

const VM_TYPE_FIELDS = `id name minInstances maxInstances scaleUpCooldownSeconds scaleDownCooldownSeconds flavorHint
  configureRecipe { sshUser sshPort files { path mode } commands }
  monitoring { hostTemplate services { description template } }
  loadBalancer { kind setId sipPort transport target }
  drainTimeoutSeconds drainTimeoutAction thresholds { metric active warningHoldSeconds criticalHoldSeconds role prepareOnWarning }`;
const CREATE = `mutation($input: VmTypeInput!) { createVmType(input: $input) { ${VM_TYPE_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: VmTypeInput!) { updateVmType(id: $id, input: $input) { ${VM_TYPE_FIELDS} } }`;
const SET_THRESHOLDS = `mutation($id: ID!, $t: [ThresholdInput!]!) { setThresholds(vmTypeId: $id, thresholds: $t) { id thresholds { metric role active warningHoldSeconds criticalHoldSeconds prepareOnWarning } } }`;
const CREATE_POLICY = `mutation($input: PolicyInput!) { createPolicy(input: $input) { id name vmTypeId allowCloudIds denyCloudIds requiredLabels { key value } homeCloudOnly maxCostPerHour minBandwidthMbps } }`;

const opensips = {
  name: 'opensips',
  minInstances: 1,
  maxInstances: 4,
  flavorHint: 'm1.small',
  configureRecipe: {
    sshUser: 'sipadmin',
    sshPort: 2222,
    files: [{ path: '/etc/opensips/listen.cfg', template: 'listen=udp:{{address}}:5060\n', mode: 420 }],
    commands: [['systemctl', 'restart', 'opensips']],
  },
  monitoring: { hostTemplate: 'sip-host', services: [{ description: 'Registered OpenSIPS Users', template: 'passive-service' }] },
  loadBalancer: { kind: 'KAMAILIO_DISPATCHER', setId: 1, target: 'kamailio-main' },
};

describe('VM types, thresholds and policies', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let url: string;
  let a: TenantToken;
  let b: TenantToken;

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    url = broker.url;
    a = await createTenantWithToken(url, broker.adminToken, 'tenant-a');
    b = await createTenantWithToken(url, broker.adminToken, 'tenant-b');
  });

  afterAll(async () => {
    await broker.stop();
    await db.drop();
  });

  it('creates a VM type with its recipe, monitoring and load-balancer bindings and defaults', async () => {
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: opensips });
    expect(createVmType).toMatchObject({
      name: 'opensips',
      minInstances: 1,
      maxInstances: 4,
      scaleUpCooldownSeconds: 300,
      scaleDownCooldownSeconds: 600,
      drainTimeoutSeconds: 300,
      drainTimeoutAction: 'FORCE_REMOVE',
      configureRecipe: { sshUser: 'sipadmin', sshPort: 2222, files: [{ path: '/etc/opensips/listen.cfg', mode: 420 }], commands: [['systemctl', 'restart', 'opensips']] },
      loadBalancer: { kind: 'KAMAILIO_DISPATCHER', setId: 1, sipPort: 5060, transport: 'udp', target: 'kamailio-main' },
      thresholds: [],
    });
    const { vmTypes } = await gqlOk(url, a.token, `{ vmTypes { id name } }`);
    expect(vmTypes).toEqual([{ id: createVmType.id, name: 'opensips' }]);
  });

  it.each([
    [{ minInstances: -1 }, 'input.minInstances', 'must not be negative'],
    [{ minInstances: 5, maxInstances: 2 }, 'input.maxInstances', 'at least minInstances'],
    [{ maxInstances: 0 }, 'input.maxInstances', 'at least 1'],
    [{ name: '' }, 'input.name', 'must not be empty'],
    [{ configureRecipe: { ...opensips.configureRecipe, sshUser: 'Root User' } }, 'input.configureRecipe.sshUser', 'POSIX'],
    [{ configureRecipe: { ...opensips.configureRecipe, files: [{ path: 'relative/file', template: '' }] } }, 'input.configureRecipe.files.0.path', 'absolute'],
    [{ configureRecipe: { ...opensips.configureRecipe, files: [{ path: '/etc/../shadow', template: '' }] } }, 'input.configureRecipe.files.0.path', '..'],
    [{ configureRecipe: { ...opensips.configureRecipe, commands: [[]] } }, 'input.configureRecipe.commands.0', 'program name'],
    [{ monitoring: { hostTemplate: 'bad;template' } }, 'input.monitoring.hostTemplate', 'letters, digits'],
    [{ loadBalancer: { ...opensips.loadBalancer, sipPort: 70000 } }, 'input.loadBalancer.sipPort', 'port'],
    [{ loadBalancer: { ...opensips.loadBalancer, transport: 'sctp' } }, 'input.loadBalancer.transport', ''],
  ])('rejects %j naming %s', async (patch, field, rule) => {
    const err = await gqlError(url, a.token, CREATE, { input: { ...opensips, name: 'bad-one', ...patch } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(String(err.extensions?.rule)).toContain(rule);
    const { vmTypes } = await gqlOk(url, a.token, `{ vmTypes { name } }`);
    expect(vmTypes.map((v: { name: string }) => v.name)).not.toContain('bad-one');
  });

  it('refuses a second VM type with the same name in a tenant, but not in another tenant', async () => {
    const err = await gqlError(url, a.token, CREATE, { input: opensips });
    expect(err.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
    const { createVmType } = await gqlOk(url, b.token, CREATE, { input: opensips });
    expect(createVmType.name).toBe('opensips');
  });

  it('updates a VM type (full replacement)', async () => {
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: { ...opensips, name: 'kamailio' } });
    const { updateVmType } = await gqlOk(url, a.token, UPDATE, { id: createVmType.id, input: { name: 'kamailio-edge', minInstances: 2, maxInstances: 8 } });
    expect(updateVmType).toMatchObject({ id: createVmType.id, name: 'kamailio-edge', minInstances: 2, maxInstances: 8, configureRecipe: null, loadBalancer: null });
  });

  it('sets thresholds, replacing the previous set', async () => {
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: { ...opensips, name: 'with-thresholds' } });
    const first = [
      { metric: 'Registered OpenSIPS Users', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: 'SCALE_UP', prepareOnWarning: true },
      { metric: 'active calls', active: true, warningHoldSeconds: 300, criticalHoldSeconds: 600, role: 'SCALE_DOWN' },
    ];
    const r1 = await gqlOk(url, a.token, SET_THRESHOLDS, { id: createVmType.id, t: first });
    expect(r1.setThresholds.thresholds).toEqual([
      { metric: 'Registered OpenSIPS Users', role: 'SCALE_UP', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, prepareOnWarning: true },
      { metric: 'active calls', role: 'SCALE_DOWN', active: true, warningHoldSeconds: 300, criticalHoldSeconds: 600, prepareOnWarning: false },
    ]);
    const r2 = await gqlOk(url, a.token, SET_THRESHOLDS, { id: createVmType.id, t: [first[1]] });
    expect(r2.setThresholds.thresholds.map((t: { metric: string }) => t.metric)).toEqual(['active calls']);
  });

  it.each([
    [[{ metric: 'load', active: true, warningHoldSeconds: -1, criticalHoldSeconds: 0, role: 'SCALE_UP' }], 'thresholds.0.warningHoldSeconds'],
    [
      [
        { metric: 'load', active: true, warningHoldSeconds: 1, criticalHoldSeconds: 1, role: 'SCALE_UP' },
        { metric: 'load', active: true, warningHoldSeconds: 1, criticalHoldSeconds: 1, role: 'SCALE_UP' },
      ],
      'thresholds.1.metric',
    ],
    [
      [
        { metric: 'idle', active: true, warningHoldSeconds: 1, criticalHoldSeconds: 1, role: 'SCALE_DOWN' },
        { metric: 'calls', active: true, warningHoldSeconds: 1, criticalHoldSeconds: 1, role: 'SCALE_DOWN' },
      ],
      'thresholds.1.role',
    ],
    [[{ metric: 'idle', active: true, warningHoldSeconds: 1, criticalHoldSeconds: 1, role: 'SCALE_DOWN', prepareOnWarning: true }], 'thresholds.0.prepareOnWarning'],
    [[{ metric: 'bad\nmetric', active: true, warningHoldSeconds: 1, criticalHoldSeconds: 1, role: 'SCALE_UP' }], 'thresholds.0.metric'],
  ])('rejects thresholds %j naming %s, keeping the old set', async (thresholds, field) => {
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: { ...opensips, name: `t-${Math.random().toString(36).slice(2, 8)}` } });
    await gqlOk(url, a.token, SET_THRESHOLDS, { id: createVmType.id, t: [{ metric: 'keep', active: true, warningHoldSeconds: 5, criticalHoldSeconds: 5, role: 'SCALE_UP' }] });
    const err = await gqlError(url, a.token, SET_THRESHOLDS, { id: createVmType.id, t: thresholds });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    const { vmTypes } = await gqlOk(url, a.token, `{ vmTypes { id thresholds { metric } } }`);
    expect(vmTypes.find((v: { id: string }) => v.id === createVmType.id).thresholds).toEqual([{ metric: 'keep' }]);
  });

  it('keeps tenants apart: B cannot see, update or set thresholds on A\'s VM type', async () => {
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: { ...opensips, name: 'private-to-a' } });
    const { vmTypes } = await gqlOk(url, b.token, `{ vmTypes { id name } }`);
    expect(vmTypes.map((v: { id: string }) => v.id)).not.toContain(createVmType.id);
    const upd = await gqlError(url, b.token, UPDATE, { id: createVmType.id, input: { name: 'hijacked', minInstances: 0, maxInstances: 1 } });
    expect(upd.extensions?.code).toBe('NOT_FOUND');
    const thr = await gqlError(url, b.token, SET_THRESHOLDS, { id: createVmType.id, t: [] });
    expect(thr.extensions?.code).toBe('NOT_FOUND');
    // The error for an existing foreign id is the same as for an id that never existed.
    const ghost = await gqlError(url, b.token, SET_THRESHOLDS, { id: '0b5e9a5c-0000-4000-8000-000000000000', t: [] });
    expect(ghost.message.replace('0b5e9a5c-0000-4000-8000-000000000000', 'ID')).toBe(thr.message.replace(createVmType.id, 'ID'));
  });

  it('lets viewers read but not change VM types', async () => {
    const viewer = await addToken(url, broker.adminToken, a.tenantId, 'VIEWER');
    const { vmTypes } = await gqlOk(url, viewer, `{ vmTypes { name } }`);
    expect(vmTypes.length).toBeGreaterThan(0);
    expect((await gqlError(url, viewer, CREATE, { input: { ...opensips, name: 'viewer-made' } })).extensions?.code).toBe('FORBIDDEN');
  });

  it('creates policies that reference visible clouds and VM types only', async () => {
    const own = await insertCloud(broker.dataSource, a.tenantId, 'home');
    const shared = await insertCloud(broker.dataSource, b.tenantId, 'partner-shared', true);
    const hidden = await insertCloud(broker.dataSource, b.tenantId, 'partner-private', false);
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: { ...opensips, name: 'policy-target' } });
    const input = {
      name: 'eu-only',
      vmTypeId: createVmType.id,
      allowCloudIds: [own.id, shared.id],
      requiredLabels: [{ key: 'jurisdiction', value: 'DE' }],
      maxCostPerHour: 0.5,
      minBandwidthMbps: 100,
    };
    const { createPolicy } = await gqlOk(url, a.token, CREATE_POLICY, { input });
    expect(createPolicy).toMatchObject({ ...input, denyCloudIds: [], homeCloudOnly: false });

    const bad = await gqlError(url, a.token, CREATE_POLICY, { input: { name: 'sneaky', denyCloudIds: [hidden.id] } });
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.denyCloudIds.0' });
    const both = await gqlError(url, a.token, CREATE_POLICY, { input: { name: 'both', allowCloudIds: [own.id], denyCloudIds: [own.id] } });
    expect(both.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.denyCloudIds' });
    const foreignType = await gqlError(url, b.token, CREATE_POLICY, { input: { name: 'x', vmTypeId: createVmType.id } });
    expect(foreignType.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.vmTypeId' });

    const { policies } = await gqlOk(url, a.token, `{ policies { name } }`);
    expect(policies).toEqual([{ name: 'eu-only' }]);
    const { policies: bPolicies } = await gqlOk(url, b.token, `{ policies { name } }`);
    expect(bPolicies).toEqual([]);
  });

  it('updates and deletes policies with the same rules, within the tenant', async () => {
    const own = await insertCloud(broker.dataSource, a.tenantId, 'home-2');
    const hidden = await insertCloud(broker.dataSource, b.tenantId, 'partner-private-2', false);
    const { createPolicy } = await gqlOk(url, a.token, CREATE_POLICY, { input: { name: 'to-change', maxCostPerHour: 1 } });
    const UPDATE_POLICY = `mutation($id: ID!, $input: PolicyInput!) { updatePolicy(id: $id, input: $input) { id name allowCloudIds maxCostPerHour } }`;
    const { updatePolicy } = await gqlOk(url, a.token, UPDATE_POLICY, { id: createPolicy.id, input: { name: 'changed', allowCloudIds: [own.id] } });
    expect(updatePolicy).toEqual({ id: createPolicy.id, name: 'changed', allowCloudIds: [own.id], maxCostPerHour: null });
    expect((await gqlError(url, a.token, UPDATE_POLICY, { id: createPolicy.id, input: { name: 'changed', denyCloudIds: [hidden.id] } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.denyCloudIds.0' });
    expect((await gqlError(url, a.token, UPDATE_POLICY, { id: createPolicy.id, input: { name: 'eu-only' } })).extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
    // Another tenant can neither change nor delete it.
    expect((await gqlError(url, b.token, UPDATE_POLICY, { id: createPolicy.id, input: { name: 'stolen' } })).extensions?.code).toBe('NOT_FOUND');
    expect((await gqlError(url, b.token, `mutation($id: ID!) { deletePolicy(id: $id) }`, { id: createPolicy.id })).extensions?.code).toBe('NOT_FOUND');
    expect((await gqlOk(url, a.token, `mutation($id: ID!) { deletePolicy(id: $id) }`, { id: createPolicy.id })).deletePolicy).toBe(true);
    expect((await gqlOk(url, a.token, `{ policies { name } }`)).policies.map((p: { name: string }) => p.name)).not.toContain('changed');
    const { auditLog } = await gqlOk(url, a.token, `{ auditLog(first: 10) { action objectId } }`);
    expect(auditLog.filter((e: { objectId: string }) => e.objectId === createPolicy.id).map((e: { action: string }) => e.action)).toEqual(['policy.delete', 'policy.update', 'policy.create']);
  });
});
