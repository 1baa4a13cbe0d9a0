import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../../sim/client.ts';
import { ControlPlane } from '../../sim/control-plane-client.ts';
import { type ManagedSystem, vscsiDomain } from '../../sim/managed-system.ts';
import { SimVios } from '../../sim/vios.ts';
import {
  type FaultlineUp,
  pagerDutyAt,
  quickHealingConfig,
  startFaultlineUp,
  until,
  writeConfigFile,
} from '../helpers/faultline-up.ts';

/**
 * Issue #17: the web page in a real browser. Debian's headless Chromium (driven by playwright-core,
 * `--no-sandbox` since CI runs as root) against `faultline up` as a child process on 127.0.0.1,
 * fed the storm of a VIOS IPL by a managed system of real agents over simulated hosts (vios1 and
 * vios2 in their hosting role, 5 md clients with the guarded executor), at most 2 plans in flight:
 * a canary, then waves.
 *
 * The operator works only through the page, in a browser with JavaScript off (the page must work
 * without it): an agent's token cannot sign in; the operator's can. Once the outage holds every
 * client, the operator pauses dispatch from the page, approves from the incident's page and, with
 * vios2 back, sees no plan go out until resuming from the page. The fleet then heals. The
 * incident's page shows its timeline on a time axis with the canary and the waves, and the pause,
 * the approval and the resume as entries. A form posted without the CSRF token is refused and
 * changes nothing. axe-core (in a second context, with JavaScript) finds no serious or critical
 * violation on any page. Screenshots of the list, the incident and the time-to-heal chart are
 * written to `test-results/web/`, the folder CI keeps.
 */

const CLIENTS = 5;
const MAX_PLANS_IN_FLIGHT = 2;
const SYSTEM: ManagedSystem = { type: '9080', model: 'M9S', serial: 'A0E2E17' };
const FIRST_CLIENT_PARTITION_ID = 3;
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'web');
/** Agents poll every second with a 5 s long poll: two polls and a margin. */
const TWO_POLLS_MS = 6_000;
const TEST_SECONDS = 360;

const data = mkdtempSync(join(tmpdir(), 'faultline-web-page-'));
const planeDir = join(data, 'plane');
let plane: FaultlineUp | undefined;
let controlPlane: ControlPlane;
let operatorToken: string;
let browser: Browser;
let noScript: BrowserContext;
let withScript: BrowserContext;
const servers: SimVios[] = [];
const clients: SimClient[] = [];
const clientTokens = new Map<string, string>();

beforeAll(async () => {
  const configFile = writeConfigFile(
    join(data, 'faultline.json'),
    quickHealingConfig({
      maxPlansInFlight: MAX_PLANS_IN_FLIGHT,
      // Pages go to a port nobody listens on: this test is about the page, not paging.
      notify: pagerDutyAt('nowhere', 'http://127.0.0.1:9/v2/enqueue'),
    }),
  );
  plane = await startFaultlineUp({ dataDir: planeDir, configFile });
  const { url } = plane;
  operatorToken = readFileSync(join(planeDir, 'operator-token'), 'utf8').trim();
  controlPlane = new ControlPlane(url, operatorToken);
  const planPublicKeyPem = readFileSync(join(planeDir, 'plan-public-key.pem'), 'utf8');
  const clientIds = Array.from(
    { length: CLIENTS },
    (_, index) => `w-lnx${String(index + 1).padStart(2, '0')}`,
  );
  for (const [lparId, partition] of [
    [1, 'vios1'],
    [2, 'vios2'],
  ] as const) {
    servers.push(
      new SimVios({
        hostId: partition,
        system: SYSTEM,
        lparId,
        vscsiClients: clientIds.map((hostId, index) => ({
          hostId,
          partitionId: FIRST_CLIENT_PARTITION_ID + index,
        })),
        url,
        agentToken: await controlPlane.mintAgentToken(partition, {
          role: 'hosting',
          serves: [vscsiDomain(partition, SYSTEM)],
        }),
      }),
    );
  }
  for (const [index, hostId] of clientIds.entries()) {
    const agentToken = await controlPlane.mintAgentToken(hostId);
    clientTokens.set(hostId, agentToken);
    clients.push(
      new SimClient({ hostId, index: 700 + index, system: SYSTEM, url, agentToken, planPublicKeyPem }),
    );
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  noScript = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  withScript = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  const everyone = [...servers, ...clients];
  await Promise.all(everyone.map((host) => host.stop().catch(() => undefined)));
  for (const host of everyone) host.remove();
  await plane?.stop();
  rmSync(data, { recursive: true, force: true });
});

/** What a locator shows (its first match), once the page has loaded. */
const shown = async (locator: Locator): Promise<string> => (await locator.first().innerText()).trim();

/** Clicks a form's button and waits for the page it leads to. */
const press = async (page: Page, name: string): Promise<void> => {
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name }).click()]);
};

const signIn = async (page: Page, token: string): Promise<void> => {
  await page.goto(`${plane?.url}/`);
  await page.getByLabel('Operator token').fill(token);
  await press(page, 'Sign in');
};

/** The page's own word on dispatch, read from its header. */
const dispatchShown = async (page: Page): Promise<string> => {
  await page.goto(`${plane?.url}/`);
  return (await page.locator('header .dispatch .status').textContent()) ?? '';
};

/** No serious or critical accessibility violation on the page at `path`. */
const accessible = async (page: Page, path: string): Promise<void> => {
  await page.goto(`${plane?.url}${path}`);
  const results = await new AxeBuilder({ page }).analyze();
  const grave = results.violations.filter(
    (violation) => violation.impact === 'serious' || violation.impact === 'critical',
  );
  expect(
    grave.map(
      (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
    ),
    path,
  ).toEqual([]);
};

describe('the web page in a browser', () => {
  it(
    'signs an operator in, shows the incident and its timeline, and pauses, approves and resumes from the page',
    async () => {
      const url = plane?.url ?? '';
      const [, vios2] = servers;
      if (vios2 === undefined) throw new Error('no vios2');
      const page = await noScript.newPage();

      // An agent's token cannot sign in.
      await signIn(page, clientTokens.get('w-lnx01') ?? '');
      expect(await shown(page.getByRole('alert'))).toContain('only an operator token may sign in');
      expect(await noScript.cookies()).toEqual([]);
      await signIn(page, operatorToken);
      expect(await shown(page.getByRole('heading', { level: 1 }))).toBe('Incidents');
      const [session] = await noScript.cookies();
      expect(session).toMatchObject({ name: 'faultline_session', httpOnly: true, sameSite: 'Strict' });

      for (const server of servers) await server.start();
      for (const client of clients) await client.start();
      await Promise.all(clients.map((client) => client.scanNow('baseline')));
      await Promise.all(servers.map((server) => server.checkNow()));
      await delay(3_000);

      expect((await vios2.shutdown()).result.outcome).toBe('delivered');
      await Promise.all(clients.map((client) => client.remoteDown()));
      const opened = await until('the outage holding every client', async () => {
        const incident = (await controlPlane.incidents()).find(
          (candidate) => candidate.failureDomain === vios2.failureDomain,
        );
        return incident !== undefined && incident.affectedHosts >= CLIENTS ? incident : undefined;
      });

      // The list shows it; the operator pauses dispatch from the page's header.
      await page.goto(`${url}/`);
      const row = page.getByRole('row').filter({ hasText: opened.id });
      expect(await shown(row)).toContain(vios2.failureDomain);
      expect(await shown(row)).toContain('awaiting-recovery');
      await press(page, 'Pause dispatch');
      expect(await shown(page.locator('p.flash'))).toContain('Pause queued');
      await until('the pause applied', async () =>
        (await dispatchShown(page)).includes('paused') ? true : undefined,
      );

      // A form posted without the CSRF token is refused, and changes nothing.
      const forged = await page.request.post(`${url}/control/resume`, { form: { failureDomain: '' } });
      expect(forged.status()).toBe(403);
      await delay(1_000);
      expect(await dispatchShown(page)).toContain('paused');

      // The operator approves from the incident's page.
      await page.goto(`${url}/`);
      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: opened.summary }).click()]);
      expect(await shown(page.getByRole('heading', { level: 1 }))).toBe(opened.summary);
      await press(page, 'Approve the next wave');
      expect(await shown(page.locator('p.flash'))).toContain('Approval queued');
      // axe-core on the open incident's page, its action forms and the line about the approval on it.
      const checked = await withScript.newPage();
      await accessible(checked, '/sign-in');
      await signIn(checked, operatorToken);
      await accessible(checked, `/incidents/${encodeURIComponent(opened.id)}`);

      // vios2 comes back; while paused, no client gets a plan.
      await vios2.ipl();
      await delay(1_000);
      await Promise.all(clients.map((client) => client.remoteBack()));
      vios2.configure();
      await vios2.checkNow();
      await until('vios2 up', async () => {
        const detail = await controlPlane.incident(opened.id);
        return detail.incident.upAt ? true : undefined;
      });
      await delay(TWO_POLLS_MS);
      expect(clients.map((client) => client.plansFetched.length)).toEqual(clients.map(() => 0));

      // The operator resumes from the page; the fleet heals, a canary then waves.
      await page.goto(`${url}/`);
      await press(page, 'Resume dispatch');
      await until(
        'the outage resolved with every client healthy',
        async () => {
          const detail = await controlPlane.incident(opened.id);
          if (detail.incident.status === 'halted')
            throw new Error(`halted: ${JSON.stringify(detail.timeline)}`);
          return detail.incident.status === 'resolved' && clients.every((client) => client.isHealthy())
            ? true
            : undefined;
        },
        240,
      );

      // The incident's page: the timeline on its time axis, the canary and the waves, the
      // operator's pause, approval and resume among the entries.
      await page.goto(`${url}/incidents/${encodeURIComponent(opened.id)}`);
      expect(await shown(page.locator('dl.facts'))).toContain('resolved');
      const chart = page.locator('figure svg[role="img"]').first();
      expect(await chart.locator('circle.m-canary').count()).toBe(1);
      expect(await chart.locator('circle.m-wave').count()).toBeGreaterThanOrEqual(2);
      expect(await chart.locator('circle.m-down').count()).toBe(1);
      expect(await chart.locator('circle.m-up').count()).toBe(1);
      expect(await chart.locator('circle.m-resolved').count()).toBe(1);
      expect(await chart.textContent()).toContain(`${CLIENTS} of ${CLIENTS} healthy`);
      const moments = await shown(page.getByRole('table', { name: 'Key moments' }));
      expect(moments).toContain('canary: ');
      expect(moments).toContain('wave 1: ');
      const entries = await shown(page.getByRole('table', { name: 'Timeline entries, oldest first' }));
      expect(entries).toContain('dispatch paused by local operator');
      expect(entries).toContain('wave 0 approved');
      expect(entries).toContain('dispatch resumed by local operator');
      await page.screenshot({ path: join(SCREENSHOTS, 'incident.png'), fullPage: true });
      // Its head and its timeline at a glance: what docs/web-incident.png shows.
      await page.screenshot({
        path: join(SCREENSHOTS, 'incident-head.png'),
        clip: { x: 0, y: 0, width: 1280, height: 860 },
      });

      await page.goto(`${url}/`);
      expect(await shown(page.getByRole('row').filter({ hasText: opened.id }))).toContain('resolved');
      await page.screenshot({ path: join(SCREENSHOTS, 'incidents.png'), fullPage: true });
      await page.goto(`${url}/stats`);
      expect(await page.getByRole('img', { name: /Mean time to detect and to heal/ }).count()).toBe(1);
      await page.screenshot({ path: join(SCREENSHOTS, 'time-to-heal.png'), fullPage: true });
      for (const shot of ['incident.png', 'incident-head.png', 'incidents.png', 'time-to-heal.png'])
        expect(existsSync(join(SCREENSHOTS, shot)), shot).toBe(true);

      // Every page, checked by axe-core in a browser with JavaScript.
      for (const path of [
        '/',
        `/incidents/${encodeURIComponent(opened.id)}`,
        `/incidents/${encodeURIComponent(opened.id)}/hosts/w-lnx01`,
        '/stats',
        '/topology',
      ])
        await accessible(checked, path);
    },
    TEST_SECONDS * 1000,
  );
});
