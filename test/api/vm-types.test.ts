/** VM types, their bindings (recipe, monitoring, load balancer), thresholds and policies through the real HTTP API, including tenant isolation. */
import fs from 'node:fs';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertCloud } from '../support/fixtures';
import { gqlError, gqlOk } from '../support/graphql';
import { createSshKey, NAGIOS_HOST_TEMPLATE, registerLoadBalancer, registerMonitoringServer } from '../support/integrations';
import { keyPair, tempKeyDir } from '../support/ssh-keys';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';

const VM_TYPE_FIELDS = `id name minInstances maxInstances scaleUpCooldownSeconds scaleDownCooldownSeconds scaleDownMayRemoveOriginal flavorHint
  configureRecipe { sshKeyId sshPort sudo files { path template mode } commands readiness { command tcpPort udpPort timeoutSeconds } }
  monitoring { serverId hostTemplate hostName metrics { service metric } }
  loadBalancer { loadBalancerId setId uriTemplate attrs drainMetric drainTimeoutSeconds drainAction }
  thresholds { metric active warningHoldSeconds criticalHoldSeconds role prepareOnWarning }`;
const CREATE = `mutation($input: VmTypeInput!) { createVmType(input: $input) { ${VM_TYPE_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: VmTypeInput!) { updateVmType(id: $id, input: $input) { ${VM_TYPE_FIELDS} } }`;
const SET_THRESHOLDS = `mutation($id: ID!, $t: [ThresholdInput!]!) { setThresholds(vmTypeId: $id, thresholds: $t) { id thresholds { metric role active warningHoldSeconds criticalHoldSeconds prepareOnWarning } } }`;
const CREATE_POLICY = `mutation($input: PolicyInput!) { createPolicy(input: $input) { id name vmTypeId allowCloudIds denyCloudIds requiredLabels { key value } homeCloudOnly maxCostPerHour minBandwidthMbps } }`;

interface Integrations {
  sshKeyId: string;
  serverId: string;
  loadBalancerId: string;
}

/** The three bindings of a VM type, to one tenant's integrations. */
function bindingsOf(i: Integrations) {
  return {
    configureRecipe: {
      sshKeyId: i.sshKeyId,
      sshPort: 2222,
      files: [{ path: '/etc/opensips/listen.cfg', template: 'listen=udp:{{fixedIp}}:5060\nadvertised_address={{ publicIp }}\n', mode: 420 }],
      commands: [['systemctl', 'restart', 'opensips'], ['logger', 'configured {{vmName}} in {{cloudName}}']],
      readiness: { udpPort: 5060 },
    },
    monitoring: { serverId: i.serverId, hostTemplate: NAGIOS_HOST_TEMPLATE, metrics: [{ service: 'Active Calls', metric: 'active calls' }] },
    loadBalancer: { loadBalancerId: i.loadBalancerId, setId: 1, drainMetric: 'active calls' },
  };
}

describe('VM types, thresholds and policies', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let url: string;
  let a: TenantToken;
  let b: TenantToken;
  let keyDir: string;
  let aIntegrations: Integrations;
  let bIntegrations: Integrations;
  /** A VM type using every binding, each to one of tenant A's integrations. */
  let opensips: Record<string, any>;

  async function integrationsOf(token: string): Promise<Integrations> {
    const key = await createSshKey(url, token, 'deploy', keyPair(keyDir, `deploy-${Math.random().toString(36).slice(2, 8)}`));
    return {
      sshKeyId: key.id,
      serverId: (await registerMonitoringServer(url, token, 'nagios', key.id, keyPair(keyDir, 'nagios-host').publicKey)).id,
      loadBalancerId: (await registerLoadBalancer(url, token, 'kamailio')).id,
    };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    url = broker.url;
    a = await createTenantWithToken(url, broker.adminToken, 'tenant-a');
    b = await createTenantWithToken(url, broker.adminToken, 'tenant-b');
    keyDir = tempKeyDir('vm-types');
    aIntegrations = await integrationsOf(a.token);
    bIntegrations = await integrationsOf(b.token);
    opensips = { name: 'opensips', minInstances: 1, maxInstances: 4, flavorHint: 'm1.small', ...bindingsOf(aIntegrations) };
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    fs.rmSync(keyDir, { recursive: true, force: true });
  });

  it('creates a VM type with its recipe, monitoring and load-balancer bindings and defaults', async () => {
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: opensips });
    expect(createVmType).toMatchObject({
      name: 'opensips',
      minInstances: 1,
      maxInstances: 4,
      scaleUpCooldownSeconds: 300,
      scaleDownCooldownSeconds: 600,
      scaleDownMayRemoveOriginal: false,
      configureRecipe: {
        sshKeyId: aIntegrations.sshKeyId,
        sshPort: 2222,
        sudo: null,
        files: [{ path: '/etc/opensips/listen.cfg', template: opensips.configureRecipe.files[0].template, mode: 420 }],
        commands: opensips.configureRecipe.commands,
        readiness: { command: null, tcpPort: null, udpPort: 5060, timeoutSeconds: 120 },
      },
      monitoring: { serverId: aIntegrations.serverId, hostTemplate: NAGIOS_HOST_TEMPLATE, hostName: '{{vmName}}', metrics: [{ service: 'Active Calls', metric: 'active calls' }] },
      loadBalancer: {
        loadBalancerId: aIntegrations.loadBalancerId,
        setId: 1,
        uriTemplate: 'sip:{{fixedIp}}:5060',
        attrs: '',
        drainMetric: 'active calls',
        drainTimeoutSeconds: 300,
        drainAction: 'FORCE_REMOVE',
      },
      thresholds: [],
    });
    const { vmTypes } = await gqlOk(url, a.token, `{ vmTypes { id name } }`);
    expect(vmTypes).toEqual([{ id: createVmType.id, name: 'opensips' }]);
    // The ids the bindings name are also columns with foreign keys.
    const [row] = await broker.dataSource.query(`SELECT ssh_key_id, monitoring_server_id, load_balancer_id FROM vm_types WHERE id = $1`, [createVmType.id]);
    expect(row).toEqual({ ssh_key_id: aIntegrations.sshKeyId, monitoring_server_id: aIntegrations.serverId, load_balancer_id: aIntegrations.loadBalancerId });
  });

  const recipe = (patch: Record<string, unknown>) => ({ configureRecipe: { ...opensips.configureRecipe, ...patch } });
  const monitoring = (patch: Record<string, unknown>) => ({ monitoring: { ...opensips.monitoring, ...patch } });
  const lb = (patch: Record<string, unknown>) => ({ loadBalancer: { ...opensips.loadBalancer, ...patch } });

  // Each case is a function: `opensips` exists only once beforeAll ran.
  it.each([
    ['minInstances', 'input.minInstances', 'must not be negative', () => ({ minInstances: -1 })],
    ['max < min', 'input.maxInstances', 'at least minInstances', () => ({ minInstances: 5, maxInstances: 2 })],
    ['maxInstances', 'input.maxInstances', 'at least 1', () => ({ maxInstances: 0 })],
    ['name', 'input.name', 'must not be empty', () => ({ name: '' })],
    ['sshKeyId', 'input.configureRecipe.sshKeyId', 'id returned by this API', () => recipe({ sshKeyId: 'not-an-id' })],
    ['sshPort', 'input.configureRecipe.sshPort', 'port', () => recipe({ sshPort: 70000 })],
    ['relative path', 'input.configureRecipe.files.0.path', 'absolute', () => recipe({ files: [{ path: 'relative/file', template: '' }] })],
    ['.. in path', 'input.configureRecipe.files.0.path', '..', () => recipe({ files: [{ path: '/etc/../shadow', template: '' }] })],
    ['NUL in path', 'input.configureRecipe.files.0.path', 'NUL', () => recipe({ files: [{ path: '/etc/a\u0000b', template: '' }] })],
    ['placeholder in path', 'input.configureRecipe.files.0.path', 'not in paths', () => recipe({ files: [{ path: '/etc/sip/listen-{{vmId}}.cfg', template: '' }] })],
    ['path twice', 'input.configureRecipe.files.1.path', 'once', () => recipe({ files: [{ path: '/a', template: '' }, { path: '/a', template: '' }] })],
    ['mode', 'input.configureRecipe.files.0.mode', 'file mode', () => recipe({ files: [{ path: '/a', template: '', mode: 0o10000 }] })],
    ['unknown variable', 'input.configureRecipe.files.0.template', 'unknown variable "ip" at line 2, column 8', () => recipe({ files: [{ path: '/a', template: 'x\nlisten={{ip}}' }] })],
    ['malformed template', 'input.configureRecipe.files.0.template', 'malformed placeholder at line 1, column 4', () => recipe({ files: [{ path: '/a', template: 'ok {{fixedIp' }] })],
    ['hostName in a file', 'input.configureRecipe.files.0.template', '"hostName" at line 1, column 1 cannot be used here', () => recipe({ files: [{ path: '/a', template: '{{hostName}}' }] })],
    ['empty command', 'input.configureRecipe.commands.0', 'program name', () => recipe({ commands: [[]] })],
    ['blank program', 'input.configureRecipe.commands.0', 'program name', () => recipe({ commands: [['']] })],
    ['unknown variable in an argument', 'input.configureRecipe.commands.0.1', 'unknown variable "secret"', () => recipe({ commands: [['echo', '{{secret}}']] })],
    ['NUL in an argument', 'input.configureRecipe.commands.0.1', 'NUL', () => recipe({ commands: [['echo', 'a\u0000']] })],
    ['too many arguments', 'input.configureRecipe.commands.0', 'at most 64', () => recipe({ commands: [Array(65).fill('x')] })],
    ['empty readiness', 'input.configureRecipe.readiness', 'command, a tcpPort or a udpPort', () => recipe({ readiness: {} })],
    ['readiness variable', 'input.configureRecipe.readiness.command.2', 'unknown variable "nope"', () => recipe({ readiness: { command: ['test', '-e', '{{nope}}'] } })],
    ['readiness port', 'input.configureRecipe.readiness.tcpPort', 'port', () => recipe({ readiness: { tcpPort: 0 } })],
    ['readiness timeout', 'input.configureRecipe.readiness.timeoutSeconds', 'at least 1', () => recipe({ readiness: { udpPort: 5060, timeoutSeconds: 0 } })],
    ['host template without hostName', 'input.monitoring.hostTemplate', 'must use {{hostName}}', () => monitoring({ hostTemplate: 'define host {\n  host_name {{vmName}}\n}\n' })],
    ['host template variable', 'input.monitoring.hostTemplate', 'unknown variable "address"', () => monitoring({ hostTemplate: 'host_name {{hostName}} {{address}}' })],
    ['hostName naming itself', 'input.monitoring.hostName', 'cannot be used here', () => monitoring({ hostName: '{{hostName}}' })],
    ['hostName variable', 'input.monitoring.hostName', 'unknown variable "vm"', () => monitoring({ hostName: 'sip-{{vm}}' })],
    ['service name', 'input.monitoring.metrics.0.service', 'letters, digits', () => monitoring({ metrics: [{ service: 'bad;service', metric: 'x' }] })],
    ['service twice', 'input.monitoring.metrics.1.service', 'once', () => monitoring({ metrics: [{ service: 'a', metric: 'x' }, { service: 'a', metric: 'y' }] })],
    ['setId', 'input.loadBalancer.setId', 'at most 65535', () => lb({ setId: 70000 })],
    ['uri scheme', 'input.loadBalancer.uriTemplate', 'sip: or sips:', () => lb({ uriTemplate: 'http://{{fixedIp}}' })],
    ['uri variable', 'input.loadBalancer.uriTemplate', 'unknown variable "fixedIP"', () => lb({ uriTemplate: 'sip:{{fixedIP}}:5060' })],
    ['attrs variable', 'input.loadBalancer.attrs', 'unknown variable "id"', () => lb({ attrs: 'duid={{id}}' })],
    ['drain timeout', 'input.loadBalancer.drainTimeoutSeconds', 'must not be negative', () => lb({ drainTimeoutSeconds: -1 })],
  ])('rejects a bad %s naming %s', async (_what, field, rule, patch) => {
    const err = await gqlError(url, a.token, CREATE, { input: { ...opensips, name: 'bad-one', ...patch() } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(String(err.extensions?.rule)).toContain(rule);
    const { vmTypes } = await gqlOk(url, a.token, `{ vmTypes { name } }`);
    expect(vmTypes.map((v: { name: string }) => v.name)).not.toContain('bad-one');
  });

  it("refuses bindings to another tenant's integrations as if they did not exist", async () => {
    const cases = [
      [recipe({ sshKeyId: bIntegrations.sshKeyId }), 'input.configureRecipe.sshKeyId', 'SSH keys'],
      [monitoring({ serverId: bIntegrations.serverId }), 'input.monitoring.serverId', 'monitoring servers'],
      [lb({ loadBalancerId: bIntegrations.loadBalancerId }), 'input.loadBalancer.loadBalancerId', 'load balancers'],
      [lb({ loadBalancerId: '0b5e9a5c-0000-4000-8000-000000000000' }), 'input.loadBalancer.loadBalancerId', 'load balancers'],
    ] as const;
    for (const [patch, field, what] of cases) {
      const err = await gqlError(url, a.token, CREATE, { input: { ...opensips, name: 'foreign-binding', ...patch } });
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field, rule: `must be the id of one of your ${what}` });
    }
  });

  it('stores SQL- and shell-looking text in templates and arguments exactly as given', async () => {
    const hostile = `x"; $(reboot) \`id\` '; DROP TABLE vm_types; -- {{vmName}} \\{{`;
    const { createVmType } = await gqlOk(url, a.token, CREATE, {
      input: { ...opensips, name: 'hostile', ...recipe({ files: [{ path: '/etc/x.cfg', template: hostile }], commands: [['sh', '-c', hostile]] }) },
    });
    expect(createVmType.configureRecipe.files[0].template).toBe(hostile);
    expect(createVmType.configureRecipe.commands).toEqual([['sh', '-c', hostile]]);
    expect((await broker.dataSource.query(`SELECT count(*)::int AS n FROM vm_types WHERE name = 'hostile'`))[0].n).toBe(1);
  });

  it('refuses a second VM type with the same name in a tenant, but not in another tenant', async () => {
    const err = await gqlError(url, a.token, CREATE, { input: opensips });
    expect(err.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
    const { createVmType } = await gqlOk(url, b.token, CREATE, { input: { ...opensips, ...bindingsOf(bIntegrations) } });
    expect(createVmType.name).toBe('opensips');
  });

  it('updates a VM type (full replacement): bindings left out are gone, and so are their foreign keys', async () => {
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: { ...opensips, name: 'kamailio' } });
    const { updateVmType } = await gqlOk(url, a.token, UPDATE, { id: createVmType.id, input: { name: 'kamailio-edge', minInstances: 2, maxInstances: 8 } });
    expect(updateVmType).toMatchObject({ id: createVmType.id, name: 'kamailio-edge', minInstances: 2, maxInstances: 8, configureRecipe: null, monitoring: null, loadBalancer: null });
    const [row] = await broker.dataSource.query(`SELECT ssh_key_id, monitoring_server_id, load_balancer_id FROM vm_types WHERE id = $1`, [createVmType.id]);
    expect(row).toEqual({ ssh_key_id: null, monitoring_server_id: null, load_balancer_id: null });
    const bad = await gqlError(url, a.token, UPDATE, { id: createVmType.id, input: { ...opensips, name: 'kamailio-edge', ...lb({ uriTemplate: 'sip:{{floating}}' }) } });
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.loadBalancer.uriTemplate', rule: expect.stringContaining('unknown variable "floating"') });
  });

  it('lets the autoscaler remove the original only when scaleDownMayRemoveOriginal says so (default false, stored, replaced on update)', async () => {
    const { createVmType } = await gqlOk(url, a.token, CREATE, { input: { name: 'asterisk', minInstances: 1, maxInstances: 3, scaleDownMayRemoveOriginal: true } });
    expect(createVmType.scaleDownMayRemoveOriginal).toBe(true);
    const [row] = await broker.dataSource.query(`SELECT scale_down_may_remove_original FROM vm_types WHERE id = $1`, [createVmType.id]);
    expect(row.scale_down_may_remove_original).toBe(true);
    // Full replacement: left out, it is back to the default.
    const { updateVmType } = await gqlOk(url, a.token, UPDATE, { id: createVmType.id, input: { name: 'asterisk', minInstances: 1, maxInstances: 3 } });
    expect(updateVmType.scaleDownMayRemoveOriginal).toBe(false);
    const bad = await gqlError(url, a.token, UPDATE, { id: createVmType.id, input: { name: 'asterisk', minInstances: 1, maxInstances: 3, scaleDownMayRemoveOriginal: null } });
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.scaleDownMayRemoveOriginal' });
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
