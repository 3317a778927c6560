/**
 * The `intercloud` binary as a user runs it (a subprocess without a TTY, its own HOME) against a
 * real broker and two sandbox clouds: login, clouds from YAML, apply twice, import, matchmake,
 * clone --watch to DONE in text and --json, a failing clone, exit codes; decisions replayed with
 * --after-seq; SSH keys, Nagios servers and load balancers; scale-down --watch to DONE and to
 * FAILED. Needs dist/ (npm run build).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitForJobState } from '../support/clone-fixture';
import { gqlOk } from '../support/graphql';
import { bootSandboxServer } from '../support/sandbox';
import { addToken } from '../support/tenants';
import { cli, CliResult, startCli } from './support/cli-runner';
import { waitFor } from '../support/wait';
import { insertScalingDecision } from '../support/scaling-decision.fixture';
import { ScalingAction } from '../../src/domain/enums';
import { ClientLab, cloudYaml, startClientLab } from './support/client-lab';
import { buildProgram } from '../../client/cli/main';
import { keyPair } from '../support/ssh-keys';

const ESC = '\u001b';

/** The JSON lines of a --json stream. */
const records = (r: CliResult) => r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

function expectExit(r: CliResult, code: number): void {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

const APPLY = (maxInstances: number) => `
vmTypes:
  - name: opensips
    minInstances: 1
    maxInstances: ${maxInstances}
    flavorHint: m1.tiny
    thresholds:
      - { metric: active calls, active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: SCALE_UP, prepareOnWarning: true }
      - { metric: idle, active: true, warningHoldSeconds: 600, criticalHoldSeconds: 300, role: SCALE_DOWN }
    policies:
      - { name: opensips-de, requiredLabels: { jurisdiction: DE } }
policies:
  - { name: affordable, maxCostPerHour: 5 }
`;

describe('intercloud CLI', () => {
  let lab: ClientLab;
  let home: string;
  let files: string;
  let vmName: string;
  const run = (args: string[], options: { env?: Record<string, string>; input?: string } = {}) => cli(home, args, options);

  beforeAll(async () => {
    lab = await startClientLab(['cli-home', 'cli-partner']);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-cli-home-'));
    files = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-cli-files-'));
  });

  afterAll(async () => {
    await lab?.stop();
    for (const d of [home, files]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const c of lab.sandbox.clouds) await c.control.clearFaults();
  });

  it('prints help with an example on every level, and exits 2 on bad usage', async () => {
    const top = await run(['--help']);
    expectExit(top, 0);
    expect(top.stdout).toContain('Example:');
    // Every group and every command of the program, as commander knows them.
    const paths = buildProgram().commands.flatMap((c) => [[c.name()], ...c.commands.map((sub) => [c.name(), sub.name()])]);
    expect(paths).toEqual(expect.arrayContaining([['decisions'], ['vm-types'], ['scale-down-jobs', 'watch'], ['vms', 'scale-down'], ['ssh-keys', 'create'], ['load-balancers', 'register']]));
    const helps = await Promise.all(paths.map(async (p) => [p, await run([...p, '--help'])] as const));
    for (const [p, r] of helps) {
      expectExit(r, 0);
      if (!r.stdout.includes('Example:')) throw new Error(`intercloud ${p.join(' ')} --help has no example:\n${r.stdout}`);
      const leafCommand = !helps.some(([q]) => q.length > p.length && q[0] === p[0]);
      if (leafCommand && !r.stdout.includes('--json')) throw new Error(`intercloud ${p.join(' ')} --help has no --json:\n${r.stdout}`);
    }
    expectExit(await run(['clouds', 'register']), 2); // -f is required
    expectExit(await run(['no-such-command']), 2);
    expectExit(await run(['clouds', 'list']), 2); // not logged in: no URL
    // One process per command (49 with the standby group), all at once: minutes on a loaded machine.
  }, 180_000);

  it('logs in with a token read from stdin and keeps it in a 0600 config file', async () => {
    const bad = await run(['login', '--url', lab.baseUrl, '--token', 'icb_not-a-token-of-this-broker-0123456789abcdef']);
    expectExit(bad, 3);
    expect(bad.stderr).toContain('UNAUTHENTICATED');

    const r = await run(['login', '--url', lab.baseUrl], { input: `${lab.tenant.token}\n` });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^Logged in to http:\/\/127\.0\.0\.1:\d+\/graphql as .* \(OPERATOR\) of tenant client-/);
    const file = path.join(home, '.config/intercloud/config.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(config).toEqual({ currentProfile: 'default', profiles: { default: { url: `${lab.baseUrl}/graphql`, token: lab.tenant.token } } });

    // A second profile, and the environment overriding the saved token.
    const viewer = await addToken(lab.broker.url, lab.broker.adminToken, lab.tenant.tenantId, 'VIEWER');
    expectExit(await run(['--profile', 'noc', 'login', '--url', lab.baseUrl, '--token', viewer, '--json']), 0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).currentProfile).toBe('noc');
    expectExit(await run(['--profile', 'default', 'clouds', 'list']), 0);
    expectExit(await run(['--profile', 'default', 'clouds', 'list'], { env: { INTERCLOUD_TOKEN: 'icb_revoked-or-wrong-0123456789abcdef0123' } }), 3);
    expectExit(await run(['--profile', 'nope', 'clouds', 'list']), 2);
    expectExit(await run(['--profile', 'default', 'login', '--url', lab.baseUrl, '--token', lab.tenant.token]), 0);
  });

  it('registers two clouds from one YAML file (secrets from the environment) and lists them', async () => {
    const file = path.join(files, 'clouds.yaml');
    fs.writeFileSync(file, `${await cloudYaml(lab.home, 'HOME_PASSWORD')}\n---\n${await cloudYaml(lab.partner, 'PARTNER_PASSWORD')}\n`);
    const env = { HOME_PASSWORD: lab.home.credentials.password.password, PARTNER_PASSWORD: lab.partner.credentials.password.password };
    const r = await run(['clouds', 'register', '-f', file], { env });
    expectExit(r, 0);
    expect(r.stderr).toMatch(/registered cli-home \([0-9a-f-]{36}\)/);
    expect(r.stdout).toContain('cli-partner');

    const typo = path.join(files, 'typo.yaml');
    fs.writeFileSync(typo, `${await cloudYaml(lab.home, 'HOME_PASSWORD')}\ncolour: blue\n`.replace('name: cli-home', 'name: cli-typo'));
    const refused = await run(['clouds', 'register', '-f', typo], { env });
    expectExit(refused, 2);
    expect(refused.stderr).toContain('colour');

    const missing = await run(['clouds', 'register', '-f', file]);
    expectExit(missing, 2);
    expect(missing.stderr).toContain('HOME_PASSWORD');

    const list = await run(['clouds', 'list', '--json']);
    expectExit(list, 0);
    const clouds = JSON.parse(list.stdout) as { name: string; health: string; labels: unknown[] }[];
    expect(clouds.map((c) => c.name).sort()).toEqual(['cli-home', 'cli-partner']);
    expect(clouds.every((c) => c.health === 'HEALTHY')).toBe(true);

    const text = await run(['clouds', 'list']);
    expect(text.stdout).toMatch(/cli-home .*HEALTHY/);
    expect(text.stdout).not.toContain(ESC);
    const show = await run(['clouds', 'show', 'cli-partner']);
    expectExit(show, 0);
    expect(show.stdout).toMatch(/labels\s+jurisdiction=DE/);

    const verified = await run(['clouds', 'verify', 'cli-partner', '--json']);
    expectExit(verified, 0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ name: 'cli-partner', health: 'HEALTHY' });
  });

  it('applies a VM type with thresholds and policies; the second apply changes nothing; --dry-run shows a difference and changes nothing', async () => {
    const file = path.join(files, 'opensips.yaml');
    fs.writeFileSync(file, APPLY(4));
    const first = await run(['apply', '-f', file]);
    expectExit(first, 0);
    expect(first.stdout).toContain('+ vmType opensips: created');
    expect(first.stdout).toContain('+ thresholds of opensips: created');
    expect(first.stdout).toContain('+ policy opensips-de: created');
    expect(first.stdout).toContain('+ policy affordable: created');

    const second = await run(['apply', '-f', file, '--json']);
    expectExit(second, 0);
    const plan = JSON.parse(second.stdout) as { changes: { kind: string; name: string; action: string }[] };
    expect(plan.changes.map((c) => `${c.kind} ${c.name} ${c.action}`)).toEqual([
      'vmType opensips unchanged',
      'thresholds opensips unchanged',
      'policy opensips-de unchanged',
      'policy affordable unchanged',
    ]);
    const text = await run(['apply', '-f', file]);
    expect(text.stdout).toContain('Applied: 0 created, 0 updated, 4 unchanged.');

    fs.writeFileSync(file, APPLY(5));
    const dry = await run(['apply', '-f', file, '--dry-run']);
    expectExit(dry, 0);
    expect(dry.stdout).toContain('~ vmType opensips: would be updated');
    expect(dry.stdout).toContain('maxInstances: 4 -> 5');
    expect(dry.stdout).toContain('nothing was changed');

    const { vmTypes } = await gqlOk(lab.broker.url, lab.tenant.token, '{ vmTypes { name maxInstances thresholds { metric } } policies { name vmTypeId } }');
    expect(vmTypes).toEqual([{ name: 'opensips', maxInstances: 4, thresholds: [{ metric: 'active calls' }, { metric: 'idle' }] }]);
    const { policies } = await gqlOk(lab.broker.url, lab.tenant.token, '{ policies { name } }');
    expect(policies.map((p: { name: string }) => p.name).sort()).toEqual(['affordable', 'opensips-de']);

    // A policy that differs from the file is updated to match it.
    fs.writeFileSync(file, APPLY(4).replace('maxCostPerHour: 5', 'maxCostPerHour: 3'));
    const changed = await run(['apply', '-f', file]);
    expectExit(changed, 0);
    expect(changed.stdout).toContain('~ policy affordable: updated');
    const { policies: after } = await gqlOk(lab.broker.url, lab.tenant.token, '{ policies { name maxCostPerHour } }');
    expect(after.find((p: { name: string }) => p.name === 'affordable').maxCostPerHour).toBe(3);
  });

  it('imports a running server and ranks the clouds a clone could go to', async () => {
    vmName = `sip-cli-${process.pid}`;
    await bootSandboxServer(lab.home, vmName);
    const servers = await run(['clouds', 'servers', 'cli-home']);
    expect(servers.stdout).toContain(vmName);
    const imported = await run(['vms', 'import', '--cloud', 'cli-home', '--server', vmName, '--vm-type', 'opensips']);
    expectExit(imported, 0);
    expect(imported.stdout).toContain(`Imported ${vmName} as VM`);

    const table = await run(['matchmake', vmName]);
    expectExit(table, 0);
    expect(table.stdout).toMatch(/RANK .*CLOUD .*ELIGIBLE .*TO CAPACITY .*REASONS/);
    expect(table.stdout).toContain('cli-partner');
    const json = await run(['matchmake', vmName, '--json']);
    const candidates = JSON.parse(json.stdout) as { cloud: { name: string }; eligible: boolean; rank: number | null; reasons: string[] }[];
    expect(candidates.map((c) => c.cloud.name).sort()).toEqual(['cli-home', 'cli-partner']);
    expect(candidates.filter((c) => c.eligible).map((c) => c.rank)).toEqual([1, 2]);
    expect(candidates.every((c) => c.reasons.length > 0)).toBe(true);
  });

  it('charts samples in the terminal and streams scaling decisions as they are made', async () => {
    const { vms } = await gqlOk(lab.broker.url, lab.tenant.token, '{ vms { id name vmTypeId } }');
    const vm = vms.find((v: { name: string }) => v.name === vmName);
    const now = Date.now();
    const samples = Array.from({ length: 30 }, (_, i) => ({
      vmId: vm.id,
      metric: 'active calls',
      state: i < 10 ? 'OK' : i < 20 ? 'WARNING' : 'CRITICAL',
      value: i < 10 ? 40 : i < 20 ? 160 : 250,
      observedAt: new Date(now - (30 - i) * 60_000).toISOString(),
    }));
    await gqlOk(lab.broker.url, lab.tenant.token, 'mutation($s: [SampleInput!]!) { recordSamples(samples: $s) }', { s: samples });
    const chart = await run(['samples', vmName, 'active calls', '--since', '1h']);
    expectExit(chart, 0);
    expect(chart.stdout).toContain(`active calls of ${vmName}`);
    expect(chart.stdout).toMatch(/250\.0 ┤/);
    expect(chart.stdout).toContain('states: OK 10, WARNING 10, CRITICAL 10; latest CRITICAL 250');
    expect(JSON.parse((await run(['samples', vmName, 'active calls', '--json'])).stdout)).toHaveLength(30);
    expectExit(await run(['samples', vmName, 'active calls', '--since', 'yesterday']), 2);

    // With --after-seq 0 a decision made before the watch started is replayed; one made after it arrives live.
    const decide = (reason: string) =>
      insertScalingDecision(lab.broker.dataSource, lab.db.url, { tenantId: lab.tenant.tenantId, vmTypeId: vm.vmTypeId, action: ScalingAction.SCALE_UP, metric: 'active calls', reason });
    const before = await decide('CRITICAL held before the watch');
    const watch = startCli(home, ['decisions', 'watch', '--vm-type', 'opensips', '--after-seq', '0', '--json']);
    await waitFor(() => watch.stdout().includes('before the watch'), 'the stored decision on stdout', 30_000);
    const after = await decide('CRITICAL held during the watch');
    await waitFor(() => watch.stdout().includes('during the watch'), 'the live decision on stdout', 30_000);
    watch.child.kill('SIGINT');
    const ended = await watch.done;
    expectExit(ended, 0);
    const shown = ended.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(shown.map((d) => [d.seq, d.reason])).toEqual([
      [before.seq, 'CRITICAL held before the watch'],
      [after.seq, 'CRITICAL held during the watch'],
    ]);
    expect(shown[0]).toMatchObject({ action: 'SCALE_UP', metric: 'active calls', vmTypeId: vm.vmTypeId });
    expectExit(await run(['decisions', 'watch', '--after-seq', '-1']), 2);
  });

  it('clone --watch follows a clone to DONE with line-wise progress and phase durations, and exits 0', async () => {
    const r = await run(['clone', vmName, '--to', 'cli-partner', '--key', 'cli-watch-text', '--watch']);
    expectExit(r, 0);
    const out = r.stdout;
    expect(out).not.toContain(ESC); // no colours, no bars without a TTY
    expect(out).toMatch(/^Clone job [0-9a-f-]{36}: sip-cli-\d+ \(cli-home\) -> cli-partner as /);
    for (const phase of ['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']) {
      expect(out).toContain(`[${phase}] started`);
      expect(out).toContain(`[${phase}] completed`);
    }
    expect(out).toMatch(/\[TRANSFER\] \d+\.\d MiB \/ \d+\.\d MiB \(100%\) at .*\/s, ETA/);
    expect(out).toContain('[DONE]');
    expect(out).toMatch(/PHASE +│? *DURATION|PHASE\s+DURATION/);
    expect(out).toMatch(/Clone DONE: VM .* in cli-partner at /);
    // Phases are listed in order, each once.
    const started = [...out.matchAll(/\[(\w+)\] started/g)].map((m) => m[1]);
    expect(started).toEqual(['QUEUED', 'SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']);

    // The same key is the same job: watching it again replays it and ends at once.
    const again = await run(['clone', vmName, '--to', 'cli-partner', '--key', 'cli-watch-text', '--watch']);
    expectExit(again, 0);
    expect(again.stdout.match(/^Clone job (\S+):/m)?.[1]).toBe(out.match(/^Clone job (\S+):/m)?.[1]);
  }, 180_000);

  it('clone --watch --json prints one JSON object per line: the job, every event once in order, the final job', async () => {
    const r = await run(['clone', vmName, '--to', 'cli-partner', '--watch', '--json']);
    expectExit(r, 0);
    const lines = records(r);
    expect(lines[0].job.state).toMatch(/QUEUED|RUNNING/);
    const events = lines.filter((l) => l.event).map((l) => l.event);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => e.jobId === lines[0].job.id)).toBe(true);
    expect(events.at(-1)).toMatchObject({ kind: 'DONE', phase: 'DONE' });
    expect(events.some((e) => e.kind === 'PROGRESS' && e.phase === 'TRANSFER' && e.bytesTransferred === e.bytesTotal)).toBe(true);
    const final = lines.at(-1)!.job;
    expect(final).toMatchObject({ id: lines[0].job.id, state: 'DONE', error: null });
    expect(final.phases.map((p: { phase: string }) => p.phase)).toEqual(['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']);
    expect(final.phases.every((p: { durationMs: number | null }) => typeof p.durationMs === 'number')).toBe(true);
    expect(r.stderr).toBe('');

    const list = await run(['jobs', 'list', '--state', 'DONE', '--json']);
    expect(JSON.parse(list.stdout).nodes.map((j: { id: string }) => j.id)).toContain(final.id);
    const show = await run(['jobs', 'show', final.id]);
    expect(show.stdout).toMatch(/state\s+DONE/);
    expect(show.stdout).toMatch(/placed by\s+the request \(it named the target\)/);
    expect(show.stdout).not.toContain('RANK');
  }, 180_000);

  it('jobs show explains where the matchmaker placed a clone that named no target: every cloud, its rank or exclusion, and why', async () => {
    const r = await run(['clone', vmName, '--watch', '--json']);
    expectExit(r, 0);
    const final = records(r).at(-1)!.job;
    expect(final.placement.candidates.map((c: { cloudName: string }) => c.cloudName).sort()).toEqual(['cli-home', 'cli-partner']);
    const show = await run(['jobs', 'show', final.id]);
    expectExit(show, 0);
    const chosen = final.placement.chosenCloudName as string;
    expect(final.targetCloud.name).toBe(chosen);
    expect(show.stdout).toMatch(new RegExp(`placed by\\s+the matchmaker at \\S+ \\S+: ${chosen} of 2 clouds`));
    expect(show.stdout).toMatch(/RANK\s+│?\s*CLOUD\s+│?\s*ESTIMATE\s+│?\s*WHY/);
    const rankOne = show.stdout.split('\n').find((l) => /^\W*1\W/.test(l));
    expect(rankOne).toContain(chosen);
  }, 180_000);

  it('a failing clone exits 1 and says why', async () => {
    await lab.partner.control.injectFault({ operation: 'nova.server.create', mode: 'fail', status: 400, message: 'Invalid flavorRef provided.', count: 'always' });
    const r = await run(['clone', vmName, '--to', 'cli-partner', '--watch']);
    expectExit(r, 1);
    expect(r.stdout).toContain('[FAILED]');
    expect(r.stderr).toMatch(/error: clone job [0-9a-f-]{36} FAILED: \w+: .*Invalid flavorRef provided/);

    const json = await run(['clone', vmName, '--to', 'cli-partner', '--watch', '--json']);
    expectExit(json, 1);
    expect(records(json).at(-1)!.job).toMatchObject({ state: 'FAILED', error: { message: expect.stringContaining('Invalid flavorRef') } });
    expect(JSON.parse(json.stderr.trim()).error).toMatchObject({ state: 'FAILED' });

    const unknown = await run(['clone', 'no-such-vm', '--watch']);
    expectExit(unknown, 2);
    expect(unknown.stderr).toContain('no VM "no-such-vm"');
  }, 180_000);

  describe('Ctrl-C during clone --watch (transfer slowed to 512 KiB/s)', () => {
    beforeAll(() => lab.partner.control.setBandwidth({ uploadBytesPerSecond: 512 * 1024 }));
    afterAll(() => lab.partner.control.setBandwidth({ uploadBytesPerSecond: null }));

    /** Starts clone --watch and sends SIGINT once the transfer is under way. */
    async function interruptDuringTransfer(extra: string[]) {
      const run = startCli(home, ['clone', vmName, '--to', 'cli-partner', '--watch', ...extra]);
      await waitFor(() => run.stdout().includes('[TRANSFER] started'), 'the transfer to start', 60_000);
      run.child.kill('SIGINT');
      const result = await run.done;
      const jobId = /^Clone job (\S+):/m.exec(result.stdout)![1];
      return { result, jobId };
    }

    it('detaches with exit 130 and the job goes on to DONE', async () => {
      const { result, jobId } = await interruptDuringTransfer([]);
      expectExit(result, 130);
      expect(result.stderr).toContain(`Detached from clone job ${jobId}; it goes on. Watch it again: intercloud jobs watch ${jobId}`);
      expect((await waitForJobState(lab.broker.url, lab.tenant.token, jobId, ['DONE', 'FAILED', 'CANCELLED'], 120_000)).state).toBe('DONE');
      const again = await run(['jobs', 'watch', jobId]);
      expectExit(again, 0);
      expect(again.stdout).toContain('Clone DONE');
    }, 180_000);

    it('with --cancel-on-interrupt cancels the job, waits for its undo and exits 1', async () => {
      const { result, jobId } = await interruptDuringTransfer(['--cancel-on-interrupt']);
      expectExit(result, 1);
      expect(result.stderr).toContain(`cancelling clone job ${jobId}`);
      expect(result.stdout).toContain('[CANCELLED]');
      expect(result.stderr).toMatch(new RegExp(`clone job ${jobId} CANCELLED`));
      const { cloneJob } = await gqlOk(lab.broker.url, lab.tenant.token, 'query($id: ID!) { cloneJob(id: $id) { state } }', { id: jobId });
      expect(cloneJob.state).toBe('CANCELLED');
    }, 180_000);
  });

  // After the clone tests: while a standby is fresh in cli-partner, clones there skip SNAPSHOT, TRANSFER and IMPORT.
  it('standby prepare --keep-fresh, standby list with age and expiry, standby release', async () => {
    const prepared = await run(['standby', 'prepare', 'opensips', '--cloud', 'cli-partner', '--keep-fresh', '--json']);
    expectExit(prepared, 0);
    const jobId = JSON.parse(prepared.stdout).id as string;
    expect((await waitForJobState(lab.broker.url, lab.tenant.token, jobId, ['DONE', 'FAILED'], 120_000)).state).toBe('DONE');

    const table = await run(['standby', 'list', '--vm-type', 'opensips']);
    expectExit(table, 0);
    expect(table.stdout).toMatch(/ID\s.*VM TYPE\s.*CLOUD\s.*STATE\s.*AGE\s.*EXPIRES\s.*IN\s.*KEPT FRESH/);
    expect(table.stdout).toMatch(/opensips\s.*cli-partner\s.*FRESH\s.*yes \(refresh /);
    const [standby, ...more] = JSON.parse((await run(['standby', 'list', '--json'])).stdout) as Record<string, any>[];
    expect(more).toEqual([]);
    expect(standby).toMatchObject({ createdByJobId: jobId, state: 'FRESH', fresh: true, keepFresh: true, vmType: { name: 'opensips' }, cloud: { name: 'cli-partner' } });
    expect(standby.ageSeconds).toBeGreaterThanOrEqual(0);

    const released = await run(['standby', 'release', standby.id]);
    expectExit(released, 0);
    expect(released.stdout).toContain(`Standby ${standby.id} released: image ${standby.imageId} deleted from cli-partner.`);
    expect((await run(['standby', 'list'])).stdout).toContain('No fresh standby images');
    expect((await run(['standby', 'list', '--all'])).stdout).toMatch(/cli-partner\s.*DELETED\s.*\bno\b/);
    const bad = await run(['standby', 'release', 'nope']);
    expectExit(bad, 2);
    expect(bad.stderr).toContain('field id');
  }, 180_000);

  it('creates SSH keys from a file without ever printing the private key, and registers, lists and deletes monitoring servers and load balancers', async () => {
    const plain = keyPair(path.join(files, 'keys'), 'deploy');
    const created = await run(['ssh-keys', 'create', '--name', 'deploy', '--user', 'debian', '--private-key-file', plain.privateKeyFile]);
    expectExit(created, 0);
    expect(created.stdout).toContain(`Created SSH key deploy (`);
    expect(created.stdout).toContain(plain.fingerprint);
    expect(created.stdout).toContain(plain.publicKey.split(' ').slice(0, 2).join(' '));
    const secretLine = plain.privateKey.split('\n')[1];
    for (const r of [created]) expect(r.stdout + r.stderr).not.toContain(secretLine);

    // An encrypted key: the passphrase comes from the environment; without it the broker names the field.
    const locked = keyPair(path.join(files, 'keys'), 'locked', { passphrase: 'correct horse' });
    const noPass = await run(['ssh-keys', 'create', '--name', 'locked', '--user', 'root', '--private-key-file', locked.privateKeyFile, '--json']);
    expectExit(noPass, 2);
    expect(JSON.parse(noPass.stderr.trim()).error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.passphrase' });
    const withPass = await run(['ssh-keys', 'create', '--name', 'locked', '--user', 'root', '--private-key-file', '-', '--json'], {
      input: locked.privateKey,
      env: { INTERCLOUD_SSH_KEY_PASSPHRASE: 'correct horse' },
    });
    expectExit(withPass, 0);
    expect(JSON.parse(withPass.stdout)).toMatchObject({ name: 'locked', username: 'root', fingerprint: locked.fingerprint });
    for (const r of [noPass, withPass]) expect(r.stdout + r.stderr).not.toMatch(/correct horse|PRIVATE KEY/);

    const keys = await run(['ssh-keys', 'list', '--json']);
    expectExit(keys, 0);
    expect(JSON.parse(keys.stdout).map((k: { name: string; fingerprint: string }) => [k.name, k.fingerprint])).toEqual(
      expect.arrayContaining([['deploy', plain.fingerprint], ['locked', locked.fingerprint]]),
    );
    expect(keys.stdout).not.toContain('PRIVATE KEY');
    expect((await run(['ssh-keys', 'list'])).stdout).toMatch(/deploy .*debian/);

    // A Nagios from YAML: the key by name, the password from the environment (and never shown).
    const nagios = path.join(files, 'nagios.yaml');
    fs.writeFileSync(
      nagios,
      ['name: nagios-de', 'statusUrl: https://nagios.invalid/cgi-bin/nagios4/statusjson.cgi', 'username: intercloud', 'password: ${NAGIOS_PASSWORD}', 'sshHost: nagios.invalid', 'sshKey: deploy', `sshHostKey: ${plain.publicKey}`, 'configDir: /etc/nagios4/conf.d/intercloud'].join('\n'),
    );
    const registered = await run(['monitoring-servers', 'register', '-f', nagios, '--json'], { env: { NAGIOS_PASSWORD: 'nagios-secret-pw' } });
    expectExit(registered, 0);
    const server = JSON.parse(registered.stdout);
    expect(server).toMatchObject({ name: 'nagios-de', sshHost: 'nagios.invalid', sshPort: 22, sshHostKey: { fingerprint: plain.fingerprint }, pidFile: '/run/nagios4/nagios4.pid' });
    expect(registered.stdout).not.toContain('nagios-secret-pw');
    const servers = await run(['monitoring-servers', 'list']);
    expectExit(servers, 0);
    // The poller may already have tried it (.invalid never resolves): UNKNOWN or UNREACHABLE.
    expect(servers.stdout).toMatch(/nagios-de .*(UNKNOWN|UNREACHABLE) .*https:\/\/nagios\.invalid/);
    const badUrl = await run(['monitoring-servers', 'register', '-f', '-', '--json'], { input: fs.readFileSync(nagios, 'utf8').replace('nagios-de', 'nagios-x').replace('https://', 'ftp://'), env: { NAGIOS_PASSWORD: 'x' } });
    expectExit(badUrl, 2);
    expect(JSON.parse(badUrl.stderr.trim()).error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.statusUrl' });

    // The key is in use by the Nagios: deleting it is refused, and the CLI says why.
    const inUse = await run(['ssh-keys', 'delete', 'deploy']);
    expectExit(inUse, 1);
    expect(inUse.stderr).toMatch(/in use by monitoring server "nagios-de".*\(CONFLICT\)/);

    const lb = path.join(files, 'kamailio.yaml');
    fs.writeFileSync(lb, ['name: kamailio-de', 'kind: KAMAILIO_DISPATCHER', 'db: { host: 10.0.0.2, user: kamailio, password: "${KAMAILIO_DB_PASSWORD}", database: kamailio }', 'rpcUrl: http://10.0.0.2:5080/RPC'].join('\n'));
    const lbText = await run(['load-balancers', 'register', '-f', lb], { env: { KAMAILIO_DB_PASSWORD: 'kamailio-secret-pw' } });
    expectExit(lbText, 0);
    expect(lbText.stdout).toMatch(/^Registered load balancer kamailio-de \([0-9a-f-]{36}\): KAMAILIO_DISPATCHER, table kamailio\.dispatcher on 10\.0\.0\.2:3306, reloaded by dispatcher\.reload/);
    const lbs = await run(['load-balancers', 'list', '--json']);
    expect(JSON.parse(lbs.stdout)).toEqual([expect.objectContaining({ name: 'kamailio-de', table: 'dispatcher', listMethod: 'dispatcher.list', db: { host: '10.0.0.2', port: 3306, user: 'kamailio', database: 'kamailio' } })]);
    expect(lbs.stdout + lbText.stdout).not.toContain('kamailio-secret-pw');
    expectExit(await run(['load-balancers', 'delete', 'no-such-lb']), 2);

    // Deleted by name, in the order their uses allow.
    for (const args of [['load-balancers', 'delete', 'kamailio-de'], ['monitoring-servers', 'delete', server.id], ['ssh-keys', 'delete', 'deploy'], ['ssh-keys', 'delete', 'locked', '--json']]) expectExit(await run(args), 0);
    const { sshKeys, monitoringServers, loadBalancers } = await gqlOk(lab.broker.url, lab.tenant.token, '{ sshKeys { id } monitoringServers { id } loadBalancers { id } }');
    expect([sshKeys, monitoringServers, loadBalancers]).toEqual([[], [], []]);
  }, 180_000);

  describe('scale-down', () => {
    /** Live clones of the VM the clone tests made (min 1 of the VM type keeps the source). */
    const liveClones = async (): Promise<{ id: string; name: string }[]> => {
      const { vms } = await gqlOk(lab.broker.url, lab.tenant.token, '{ vms { id name origin state } }');
      return vms.filter((v: { origin: string; state: string }) => v.origin === 'CLONE' && v.state === 'ACTIVE');
    };

    it('vms scale-down --watch follows the removal to DONE with phase durations, and exits 0', async () => {
      const [clone] = await liveClones();
      const r = await run(['vms', 'scale-down', clone.name, '--watch']);
      expectExit(r, 0);
      expect(r.stdout).not.toContain(ESC);
      expect(r.stdout).toMatch(new RegExp(`^Scale-down job [0-9a-f-]{36}: ${clone.name} \\(cli-partner\\)`));
      // No load balancer or monitoring binding: only DELETE runs.
      expect([...r.stdout.matchAll(/\[(\w+)\] started/g)].map((m) => m[1])).toEqual(['QUEUED', 'DELETE']);
      expect(r.stdout).toContain('[DELETE] completed');
      expect(r.stdout).toContain('[DONE]');
      expect(r.stdout).toMatch(/DELETE +│? *\d/);
      expect(r.stdout).toContain(`Scale-down DONE: VM ${clone.name} (${clone.id}) removed from cli-partner.`);
      expect((await liveClones()).map((c) => c.id)).not.toContain(clone.id);

      const jobId = /^Scale-down job (\S+):/.exec(r.stdout)![1];
      const list = await run(['scale-down-jobs', 'list', '--json']);
      expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: jobId, state: 'DONE', phase: 'DONE', vm: { id: clone.id, name: clone.name } })]);
      const show = await run(['scale-down-jobs', 'show', jobId]);
      expectExit(show, 0);
      expect(show.stdout).toMatch(/state\s+DONE/);
      expect(show.stdout).toMatch(/vm state\s+DELETED/);
      // Watching an ended job replays it and ends at once.
      const again = await run(['scale-down-jobs', 'watch', jobId]);
      expectExit(again, 0);
      expect(again.stdout).toContain('Scale-down DONE');
    }, 120_000);

    it('--json prints the job, every event once in order and the final job; without --watch it prints the job and returns', async () => {
      const [clone] = await liveClones();
      const started = await run(['vms', 'scale-down', clone.id, '--json']);
      expectExit(started, 0);
      const job = JSON.parse(started.stdout);
      expect(job).toMatchObject({ vm: { id: clone.id }, state: expect.stringMatching(/QUEUED|RUNNING|DONE/) });
      const r = await run(['scale-down-jobs', 'watch', job.id, '--json']);
      expectExit(r, 0);
      const lines = records(r);
      expect(lines[0].job.id).toBe(job.id);
      const events = lines.filter((l) => l.event).map((l) => l.event);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.every((e) => e.jobId === job.id && e.vmId === clone.id)).toBe(true);
      expect(events.at(-1)).toMatchObject({ kind: 'DONE', phase: 'DONE' });
      expect(lines.at(-1)!.job).toMatchObject({ id: job.id, state: 'DONE', error: null, phases: [expect.objectContaining({ phase: 'DELETE', durationMs: expect.any(Number) })] });
      expect(r.stderr).toBe('');
    }, 120_000);

    it('a removal that fails exits 1 and says why; the last instance is refused', async () => {
      const [clone] = await liveClones();
      await lab.partner.control.injectFault({ operation: 'nova.server.delete', mode: 'fail', status: 400, message: 'Server is locked.', count: 'always' });
      const r = await run(['vms', 'scale-down', clone.name, '--watch']);
      expectExit(r, 1);
      expect(r.stdout).toContain('[FAILED]');
      expect(r.stderr).toMatch(/error: scale-down job [0-9a-f-]{36} FAILED: \w+: .*Server is locked/);
      await lab.partner.control.clearFaults();

      // What is left of the VM type is its source and at most one more clone; remove down to the source, then once more.
      const { vms } = await gqlOk(lab.broker.url, lab.tenant.token, '{ vms { id name state } }');
      const live = vms.filter((v: { state: string; name: string }) => v.state !== 'DELETED' && v.name !== vmName);
      for (const v of live) await run(['vms', 'scale-down', v.id, '--watch']);
      const last = await run(['vms', 'scale-down', vmName, '--json']);
      expectExit(last, 1);
      expect(JSON.parse(last.stderr.trim()).error).toMatchObject({ code: 'CONFLICT', field: 'vmId' });
    }, 180_000);
  });
});
