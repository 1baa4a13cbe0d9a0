import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../../sim/client.ts';
import { ControlPlane } from '../../sim/control-plane-client.ts';
import { type ManagedSystem, vscsiDomain } from '../../sim/managed-system.ts';
import { SimVios } from '../../sim/vios.ts';
import {
  type FaultlineUp,
  operatorCli,
  pagerDutyAt,
  quickHealingConfig,
  startFaultlineUp,
  until,
  writeConfigFile,
} from '../helpers/faultline-up.ts';

/**
 * The operator's pause, end to end: the one test where the operator posts after registration
 * (`faultline pause` and `faultline resume`, the operator CLI in a child process). Everywhere else
 * (the demo's test, test/e2e/no-operator.test.ts) the fleet heals with no operator in the loop.
 *
 * `faultline up` as a child process on 127.0.0.1; a managed system with vios1 and vios2, each the
 * real agent in its hosting role, and 6 md clients, each the real agent and executor over its own
 * simulated host, at most 2 plans in flight. vios2 shuts down and IPLs; once the canary has fetched
 * its plan the operator pauses. The plans already in flight finish; no client fetches a new plan,
 * and none is served one again, until `faultline resume`; then the rest heal, each plan run once.
 * If the pause held nothing, the waves would run on to the last client and the test fails.
 */

const CLIENTS = 6;
const MAX_PLANS_IN_FLIGHT = 2;
const SYSTEM: ManagedSystem = { type: '9080', model: 'M9S', serial: 'A0E2E10' };
/** The first client's partition id; vios1 and vios2 are partitions 1 and 2. */
const FIRST_CLIENT_PARTITION_ID = 3;
/** Nothing fetched and no plan running for this long: the plans in flight at the pause are done. */
const QUIET_MS = 3_000;
/** Every agent polls at least every active interval (1 s) with a 5 s long poll: two of them. */
const TWO_POLLS_MS = 6_000;
const TEST_SECONDS = 360;

const data = mkdtempSync(join(tmpdir(), 'faultline-operator-pause-'));
const planeDir = join(data, 'plane');
let plane: FaultlineUp | undefined;
let controlPlane: ControlPlane;
let cli: (...args: string[]) => Promise<string>;
const servers: SimVios[] = [];
const clients: SimClient[] = [];

const paused = async (url: string): Promise<boolean> =>
  ((await (await fetch(`${url}/v1/health`)).json()) as { paused?: boolean }).paused === true;

beforeAll(async () => {
  const configFile = writeConfigFile(
    join(data, 'faultline.json'),
    quickHealingConfig({
      maxPlansInFlight: MAX_PLANS_IN_FLIGHT,
      // Pages go to a port nobody listens on: this test is about dispatch, not paging.
      notify: pagerDutyAt('nowhere', 'http://127.0.0.1:9/v2/enqueue'),
    }),
  );
  plane = await startFaultlineUp({ dataDir: planeDir, configFile });
  const { url } = plane;
  controlPlane = new ControlPlane(url, readFileSync(join(planeDir, 'operator-token'), 'utf8').trim());
  cli = operatorCli(url, planeDir);
  const planPublicKeyPem = readFileSync(join(planeDir, 'plan-public-key.pem'), 'utf8');

  // Registration: each VIOS with its grant, every agent token; nothing runs yet.
  const clientIds = Array.from(
    { length: CLIENTS },
    (_, index) => `p-lnx${String(index + 1).padStart(2, '0')}`,
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
    clients.push(
      new SimClient({
        hostId,
        index: 600 + index,
        system: SYSTEM,
        url,
        agentToken: await controlPlane.mintAgentToken(hostId),
        planPublicKeyPem,
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  const everyone = [...servers, ...clients];
  await Promise.all(everyone.map((host) => host.stop().catch(() => undefined)));
  for (const host of everyone) host.remove();
  await plane?.stop();
  rmSync(data, { recursive: true, force: true });
});

describe("the operator's pause", () => {
  it(
    'holds real agents: plans in flight finish, no client fetches a new plan until faultline resume',
    async () => {
      const url = plane?.url ?? '';
      const [, vios2] = servers;
      if (vios2 === undefined) throw new Error('no vios2');
      for (const server of servers) await server.start();
      for (const client of clients) await client.start();
      await Promise.all(clients.map((client) => client.scanNow('baseline')));
      await Promise.all(servers.map((server) => server.checkNow()));
      // Their first heartbeats delivered and correlated before the fault.
      await delay(3_000);

      expect((await vios2.shutdown()).result.outcome).toBe('delivered');
      await Promise.all(clients.map((client) => client.remoteDown()));
      const opened = await until('the outage holding every client', async () => {
        const incident = (await controlPlane.incidents()).find(
          (candidate) => candidate.failureDomain === vios2.failureDomain,
        );
        return incident !== undefined && incident.affectedHosts >= CLIENTS ? incident : undefined;
      });
      await vios2.ipl();
      await delay(1_000);
      await Promise.all(clients.map((client) => client.remoteBack()));
      vios2.configure();
      await vios2.checkNow();

      const fetched = () => clients.reduce((sum, client) => sum + client.plansFetched.length, 0);
      const servedAgain = () => clients.map((client) => client.plansServedAgain);
      const busy = () => clients.some((client) => client.phase === 'healing' || client.phase === 'resyncing');

      // The canary has its plan: the operator pauses.
      await until('the canary fetched its plan', () => (fetched() > 0 ? true : undefined));
      expect(await cli('pause')).toContain('paused');
      // The pause is an operator command correlate applies through the core: wait until it has.
      await until('the pause applied', async () => ((await paused(url)) ? true : undefined));
      const inFlight = clients.filter((client) => client.plansFetched.length > 0);
      expect(inFlight.length).toBeGreaterThan(0);

      // Plans dispatched before it was applied still run: wait until nothing was fetched and nothing
      // ran for a while.
      let lastChange = { at: Date.now(), fetched: fetched() };
      await until('the plans in flight done', () => {
        if (fetched() !== lastChange.fetched || busy()) lastChange = { at: Date.now(), fetched: fetched() };
        return Date.now() - lastChange.at >= QUIET_MS ? true : undefined;
      });
      // Those plans finished: their hosts are healthy.
      const dispatched = clients.filter((client) => client.plansFetched.length > 0);
      for (const client of inFlight) expect(client.isHealthy(), client.hostId).toBe(true);
      for (const client of dispatched) expect(client.plansAdmitted, client.hostId).toHaveLength(1);
      // The pause holds the rest: without it the waves would have run on to the last client.
      const held = clients.filter((client) => client.plansFetched.length === 0);
      expect(held.length).toBeGreaterThan(0);

      // No client fetches a plan, nor is served one again, while paused.
      const fetchedWhilePaused = fetched();
      const servedAgainWhilePaused = servedAgain();
      await delay(TWO_POLLS_MS);
      expect(fetched()).toBe(fetchedWhilePaused);
      expect(servedAgain()).toEqual(servedAgainWhilePaused);
      for (const client of held) expect(client.isHealthy(), client.hostId).toBe(false);
      expect((await controlPlane.incident(opened.id)).incident.status).not.toBe('resolved');
      expect(await paused(url)).toBe(true);

      const resumedAt = Date.now();
      expect(await cli('resume')).toContain('resumed');
      const resolved = await until('the outage resolved with every client healthy', async () => {
        const detail = await controlPlane.incident(opened.id);
        if (detail.incident.status === 'halted')
          throw new Error(`incident ${opened.id} halted: ${JSON.stringify(detail.timeline)}`);
        return detail.incident.status === 'resolved' && clients.every((client) => client.isHealthy())
          ? detail
          : undefined;
      });
      expect(resolved.incident).toMatchObject({ kind: 'outage', affectedHosts: CLIENTS });
      expect(await paused(url)).toBe(false);

      // The held clients fetched their plans once resumed; every plan ran once.
      for (const client of held) {
        expect(client.plansFetched[0]?.at, client.hostId).toBeGreaterThanOrEqual(resumedAt);
      }
      for (const client of clients) {
        expect(client.isHealthy(), client.hostId).toBe(true);
        expect(client.actions(), client.hostId).toEqual(client.expectedActions());
        expect(client.plansAdmitted, client.hostId).toHaveLength(1);
      }
      console.log(
        `operator pause: ${dispatched.length} of ${CLIENTS} clients had their plan when the pause held, ${held.length} held until resume`,
      );
    },
    TEST_SECONDS * 1000,
  );
});
