/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core), served by a real
 * broker with two sandbox clouds: sign in, thresholds set through the form (checked through the
 * API) and a validation message from the API at the right field, a clone started on the page
 * whose timeline reaches DONE, a decision appearing live, axe-core on every page, phone width.
 * Needs the built bundle (npm run build).
 */
import fs from 'node:fs';
import { Page } from 'playwright-core';
import { ScalingAction } from '../../src/domain/enums';
import { gql, gqlOk } from '../support/graphql';
import { insertScalingDecision } from '../support/scaling-decision.fixture';
import { CHROMIUM, openBrowser, screenshot, seriousViolations, TestBrowser } from './support/browser';
import { ClientLab, importServer, registerClouds, startClientLab } from './support/client-lab';

const LONG = 90_000;
const METRIC = 'active calls';

/** An hour of samples: OK, a WARNING stretch, a CRITICAL stretch long enough to hold, OK again. */
function samplesFor(vmId: string) {
  const now = Date.now();
  return Array.from({ length: 60 }, (_, i) => {
    const state = i < 20 ? 'OK' : i < 30 ? 'WARNING' : i < 45 ? 'CRITICAL' : 'OK';
    const value = state === 'OK' ? 40 + (i % 5) * 3 : state === 'WARNING' ? 160 + (i % 4) * 5 : 240 + (i % 3) * 10;
    return { vmId, metric: METRIC, state, value, observedAt: new Date(now - (60 - i) * 60_000).toISOString() };
  });
}

describe('dashboard', () => {
  let lab: ClientLab;
  let browser: TestBrowser;
  let page: Page;
  let vmTypeId: string;
  let vm: { id: string; name: string };
  let jobId: string;

  const thresholdsOf = async () =>
    (await gqlOk(lab.broker.url, lab.tenant.token, '{ vmTypes { id thresholds { metric warningHoldSeconds criticalHoldSeconds active role prepareOnWarning } } }')).vmTypes.find(
      (t: { id: string }) => t.id === vmTypeId,
    ).thresholds;

  async function expectAccessible(name: string): Promise<void> {
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, name);
  }

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    lab = await startClientLab(['web-home', 'web-partner']);
    const { homeId } = await registerClouds(lab);
    const { createVmType } = await gqlOk(lab.broker.url, lab.tenant.token, 'mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }', {
      i: {
        name: 'opensips',
        minInstances: 1,
        maxInstances: 4,
      },
    });
    vmTypeId = createVmType.id;
    await gqlOk(lab.broker.url, lab.tenant.token, 'mutation($id: ID!, $t: [ThresholdInput!]!) { setThresholds(vmTypeId: $id, thresholds: $t) { id } }', {
      id: vmTypeId,
      t: [
        { metric: METRIC, active: true, warningHoldSeconds: 300, criticalHoldSeconds: 600, role: 'SCALE_UP', prepareOnWarning: true },
        { metric: 'idle', active: true, warningHoldSeconds: 900, criticalHoldSeconds: 1800, role: 'SCALE_DOWN', prepareOnWarning: false },
      ],
    });
    await gqlOk(lab.broker.url, lab.tenant.token, 'mutation($i: PolicyInput!) { createPolicy(input: $i) { id } }', { i: { name: 'opensips-de', vmTypeId, requiredLabels: [] } });
    vm = await importServer(lab, homeId, vmTypeId, 'sip-web-1');
    await gqlOk(lab.broker.url, lab.tenant.token, 'mutation($s: [SampleInput!]!) { recordSamples(samples: $s) }', { s: samplesFor(vm.id) });
    browser = await openBrowser();
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it('serves the bundle at / with a CSP, never in place of the broker paths', async () => {
    const res = await fetch(`${lab.baseUrl}/jobs/anything`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<div id="app">');
    expect(await (await fetch(`${lab.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${lab.baseUrl}/metrics`)).headers.get('content-type')).toContain('text/plain');
    const graphql = await gql(lab.broker.url, lab.tenant.token, '{ me { role } }');
    expect(graphql.data).toEqual({ me: { role: 'OPERATOR' } });
    expect((await fetch(`${lab.baseUrl}/assets/no-such-file.js`)).status).toBe(404);
  });

  it('signs in with a token, refusing a wrong one', async () => {
    await page.goto(`${lab.baseUrl}/`);
    await expectAccessible('sign-in');
    await page.getByLabel('API token').fill('icb_wrong-token-0123456789abcdef0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'does not accept this token' }).waitFor();

    await page.getByLabel('API token').fill(lab.tenant.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('row', { name: /web-partner/ }).getByText('HEALTHY').waitFor();
    expect(await page.evaluate('sessionStorage.getItem("intercloud.token")')).toBe(lab.tenant.token);
    expect((await page.context().cookies()).length).toBe(0);
    await page.getByText('Live').waitFor();
    await expectAccessible('overview-signed-in');
  });

  it('sets thresholds through the form, and shows the API validation message at the field', async () => {
    await page.getByRole('link', { name: 'opensips' }).click();
    await page.getByRole('heading', { name: 'VM type opensips' }).waitFor();
    await page.locator('.chart canvas').first().waitFor();

    await page.getByLabel(`${METRIC} WARNING hold in seconds`).fill('90');
    await page.getByLabel(`${METRIC} CRITICAL hold in seconds`).fill('45');
    await page.getByLabel('idle active').uncheck();
    await page.getByRole('button', { name: 'Save thresholds' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect(await thresholdsOf()).toEqual([
      { metric: METRIC, active: true, warningHoldSeconds: 90, criticalHoldSeconds: 45, role: 'SCALE_UP', prepareOnWarning: true },
      { metric: 'idle', active: false, warningHoldSeconds: 900, criticalHoldSeconds: 1800, role: 'SCALE_DOWN', prepareOnWarning: false },
    ]);

    const critical = page.getByLabel('idle CRITICAL hold in seconds');
    await critical.fill('-5');
    await page.getByRole('button', { name: 'Save thresholds' }).click();
    await page.getByRole('alert').filter({ hasText: 'Not saved' }).waitFor();
    expect(await critical.getAttribute('aria-invalid')).toBe('true');
    const describedBy = await critical.getAttribute('aria-describedby');
    expect(await page.locator(`#${describedBy}`).textContent()).toBe('must not be negative');
    expect((await thresholdsOf())[1].criticalHoldSeconds).toBe(1800);
    await expectAccessible('vm-type');
    await critical.fill('1800');
  });

  it('starts a clone and follows its timeline to DONE', async () => {
    await page.getByLabel('Clone into').selectOption({ label: 'web-partner (healthy)' });
    await page.getByRole('button', { name: 'Start clone' }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    jobId = page.url().split('/').pop()!;
    await page.locator('.timeline .step-end.step-done', { hasText: 'DONE' }).waitFor({ timeout: LONG });
    await page.locator('#job-state', { hasText: 'DONE' }).waitFor();
    for (const phase of ['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']) {
      await page.locator('.timeline .step-done', { hasText: phase }).waitFor();
    }
    expect(await page.getByRole('button', { name: 'Cancel clone' }).isDisabled()).toBe(true);
    expect(await page.locator('#transfer-progress').getAttribute('value')).toBe(await page.locator('#transfer-progress').getAttribute('max'));
    const log = await page.getByRole('region', { name: 'Event log' }).locator('tbody tr').allTextContents();
    expect(log.at(-1)).toContain('DONE');
    const { cloneJob } = await gqlOk(lab.broker.url, lab.tenant.token, 'query($id: ID!) { cloneJob(id: $id) { state targetCloud { name } } }', { id: jobId });
    expect(cloneJob).toEqual({ state: 'DONE', targetCloud: { name: 'web-partner' } });
    await expectAccessible('clone-job');

    // A reload of a dashboard route is served by the broker (SPA fallback) and shows the same job.
    await page.reload();
    await page.locator('#job-state', { hasText: 'DONE' }).waitFor();
  }, 2 * LONG);

  it('shows a scaling decision the moment it is made, filterable by VM type', async () => {
    await page.getByRole('link', { name: 'Decisions' }).click();
    await page.getByRole('heading', { name: 'Scaling decisions' }).waitFor();
    await page.getByLabel('VM type').selectOption({ label: 'opensips' });
    await page.getByText('No decisions yet.').waitFor();
    await page.getByText('Live').waitFor();
    const reason = `${METRIC} CRITICAL for 600 s (hold 45 s) on sip-web-1; web-partner ranked first`;
    await insertScalingDecision(lab.broker.dataSource, lab.db.url, {
      tenantId: lab.tenant.tenantId,
      vmTypeId,
      action: ScalingAction.SCALE_UP,
      metric: METRIC,
      reason,
      cloneJobId: jobId,
      evidence: { samples: 15, threshold: { metric: METRIC, criticalHoldSeconds: 45 } },
    });
    await page.getByRole('list', { name: /Scaling decisions/ }).getByText(reason).waitFor();
    await expectAccessible('decisions');

    // The overview shows it too, with the clone that ended and the clouds after it.
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('list', { name: 'Latest scaling decisions' }).getByText(reason).waitFor();
    await page.getByRole('region', { name: 'Recently ended clone jobs' }).locator('.badge', { hasText: 'DONE' }).waitFor();
    await expectAccessible('overview');
  });

  it('lists scale-down jobs on the overview with their state and phase', async () => {
    const { cloneJob } = await gqlOk(lab.broker.url, lab.tenant.token, 'query($id: ID!) { cloneJob(id: $id) { resultVm { id name } } }', { id: jobId });
    await page.goto(`${lab.baseUrl}/`);
    const region = page.getByRole('region', { name: 'Scale-down jobs' });
    await region.getByText('No scale-down yet.').waitFor();
    await gqlOk(lab.broker.url, lab.tenant.token, 'mutation($v: ID!) { scaleDownVm(vmId: $v) { id } }', { v: cloneJob.resultVm.id });
    await page.goto(`${lab.baseUrl}/`);
    const row = region.getByRole('row', { name: new RegExp(cloneJob.resultVm.name) });
    await row.locator('.badge', { hasText: 'DONE' }).waitFor({ timeout: LONG });
    expect(await row.getByRole('cell').nth(1).textContent()).toBe('DONE');
    await expectAccessible('overview-scale-down');
  }, 2 * LONG);

  it('works at phone width, with no page-wide sideways scrolling and no console errors', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [path, name, ready] of [
      ['/', 'overview-phone', 'Overview'],
      [`/jobs/${jobId}`, 'clone-job-phone', `Clone sip-web-1 → web-partner`],
      [`/vm-types/${vmTypeId}`, 'vm-type-phone', 'VM type opensips'],
    ] as const) {
      await page.goto(`${lab.baseUrl}${path}`);
      await page.getByRole('heading', { name: ready }).waitFor();
      // No page-wide sideways scrolling (wide tables scroll inside their own region).
      const width = await page.evaluate('({ page: document.documentElement.scrollWidth, window: window.innerWidth })');
      expect(width).toEqual({ page: 390, window: 390 });
      await expectAccessible(name);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    // The refused sign-in is logged by Chromium as a failed (401) request; nothing else may be.
    expect(browser.problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
  });
});
