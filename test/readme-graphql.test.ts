/**
 * The README's GraphQL: every ```graphql block parses and validates against the committed
 * schema/schema.graphql (field names, argument names, enum values, literal input objects), and
 * the SIP integration example's setup mutations run, as they stand, against a broker, so their
 * templates, defaults and shapes are the ones the broker accepts. A renamed field, a template
 * variable that does not exist or a default that changed breaks this test, not a reader.
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildSchema, DocumentNode, GraphQLError, Kind, OperationDefinitionNode, parse, print, validate } from 'graphql';
import { startTestBroker, TestBroker } from './support/broker';
import { createTestDatabase, TestDatabase } from './support/database';
import { gqlOk } from './support/graphql';
import { keyPair, tempKeyDir } from './support/ssh-keys';
import { createTenantWithToken, TenantToken } from './support/tenants';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const schema = buildSchema(fs.readFileSync(path.join(ROOT, 'schema/schema.graphql'), 'utf8'));

/** Each fenced ```graphql block of the README, with the line it starts on (for the failure message). */
function graphqlBlocks(markdown: string): { line: number; source: string }[] {
  const blocks: { line: number; source: string }[] = [];
  const fence = /^```graphql\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(markdown); m; m = fence.exec(markdown)) {
    blocks.push({ line: markdown.slice(0, m.index).split('\n').length, source: m[1] });
  }
  return blocks;
}

const operationsOf = (doc: DocumentNode) => doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);

const blocks = graphqlBlocks(README).map((b) => ({ ...b, doc: parse(b.source) }));

/** One operation of the README by name, printed on its own (as a client would send it). */
function operation(name: string): string {
  for (const { doc } of blocks) {
    const op = operationsOf(doc).find((o) => o.name?.value === name);
    if (op) return print(op);
  }
  throw new Error(`README.md has no GraphQL operation named ${name}`);
}

describe('README GraphQL', () => {
  it('has GraphQL blocks, each valid against schema/schema.graphql', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const { line, doc } of blocks) {
      const errors: readonly GraphQLError[] = validate(schema, doc);
      expect({ line, errors: errors.map((e) => e.message) }).toEqual({ line, errors: [] });
    }
  });

  it('shows the whole SIP service path: integrations, the three bindings, thresholds, clone and scale-down', () => {
    const names = blocks.flatMap(({ doc }) => operationsOf(doc).map((o) => o.name?.value));
    expect(names).toEqual(
      expect.arrayContaining([
        'CreateSshKey',
        'RegisterNagios',
        'RegisterKamailio',
        'RegisterOpenSips',
        'CreateOpensipsType',
        'SetOpensipsThresholds',
        'CloneForPeak',
        'CloneProgress',
        'ScaleDownClone',
        'ScaleDownEvents',
        'ScaleDownResult',
      ]),
    );
    // The recipe rewrites the listen= lines for the clone's address and restarts the service.
    expect(operation('CreateOpensipsType')).toMatch(/listen=.*\{\{fixedIp\}\}/);
    expect(operation('CreateOpensipsType')).toContain('"systemctl", "restart", "opensips"');
  });

  describe('the SIP example, run against a broker', () => {
    let db: TestDatabase;
    let broker: TestBroker;
    let tenant: TenantToken;
    let dir: string;
    const run = (name: string, variables: Record<string, unknown>) => gqlOk(broker.url, tenant.token, operation(name), variables);

    beforeAll(async () => {
      db = await createTestDatabase();
      broker = await startTestBroker(db.url);
      tenant = await createTenantWithToken(broker.url, broker.adminToken, 'readme-sip');
      dir = tempKeyDir('readme-sip');
    });

    afterAll(async () => {
      await broker?.stop();
      await db?.drop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('registers the integrations and binds a VM type to all three, with the defaults the README names', async () => {
      const key = keyPair(dir, 'intercloud_ed25519');
      const { createSshKey } = await run('CreateSshKey', { privateKey: key.privateKey, passphrase: null });
      expect(createSshKey).toMatchObject({ algorithm: 'ssh-ed25519', fingerprint: key.fingerprint });

      const { registerMonitoringServer } = await run('RegisterNagios', { sshKeyId: createSshKey.id, password: 'nagios-web-password' });
      expect(registerMonitoringServer).toMatchObject({ health: 'UNKNOWN', verifyCommand: ['nagios4', '-v', '/etc/nagios4/nagios.cfg'], pidFile: '/run/nagios4/nagios4.pid' });

      const { registerLoadBalancer: kamailio } = await run('RegisterKamailio', { dbPassword: 'kamailio-db-password' });
      expect(kamailio).toMatchObject({ table: 'dispatcher', reloadMethod: 'dispatcher.reload', listMethod: 'dispatcher.list' });
      const { registerLoadBalancer: opensips } = await run('RegisterOpenSips', { dbPassword: 'opensips-db-password' });
      expect(opensips).toMatchObject({ table: 'load_balancer', reloadMethod: 'lb_reload', listMethod: null });

      const { createVmType } = await run('CreateOpensipsType', { sshKeyId: createSshKey.id, nagiosId: registerMonitoringServer.id, loadBalancerId: kamailio.id });
      expect(createVmType.configureRecipe).toMatchObject({ sudo: null, readiness: { udpPort: 5060, timeoutSeconds: 120 } });
      // The GraphQL escape reaches the command as sed's back-reference.
      expect(createVmType.configureRecipe.commands[0]).toEqual(['sed', '-i', '-E', 's/^listen *= *(udp|tcp):[0-9.]+/listen=\\1:{{fixedIp}}/', '/etc/opensips/opensips.cfg']);
      expect(createVmType.monitoring).toMatchObject({ hostName: '{{hostname}}', metrics: [{ service: 'Registered OpenSIPS Users' }, { service: 'Active Calls', metric: 'active calls' }] });
      expect(createVmType.loadBalancer).toEqual({ setId: 1, uriTemplate: 'sip:{{publicIp}}:5060', drainMetric: 'active calls', drainTimeoutSeconds: 600, drainAction: 'ABORT' });

      const { setThresholds } = await run('SetOpensipsThresholds', { vmTypeId: createVmType.id });
      expect(setThresholds.thresholds).toEqual(
        expect.arrayContaining([
          { metric: 'Registered OpenSIPS Users', role: 'SCALE_UP', active: true },
          { metric: 'active calls', role: 'SCALE_DOWN', active: true },
        ]),
      );
    });
  });
});
