import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Notification, verifyPlan } from '../../../events/index.ts';
import type { Store } from '../../../functions/adapters/store/port.ts';
import { SqliteStore } from '../../../functions/adapters/store/sqlite-store.ts';
import { CoreConfig } from '../../../functions/core/index.ts';
import { SEED } from '../../helpers/core-fleet.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { correlateFleet, runStep, type Step } from '../../helpers/store-correlate.ts';
import { dynamoStore } from '../../helpers/store-dynamodb.ts';
import { FaultInjector, faultyQueue, faultySigner, faultyStore } from '../../helpers/store-faults.ts';
import { capturingQueue, firstOfEach, playStorm, storeFleet, testSigner } from '../../helpers/store-fleet.ts';
import { dumpSqliteStore } from '../../helpers/store-sqlite.ts';

/**
 * docs/architecture.md §2 and the acceptance of the control plane: every message delivered three times, and
 * a crash injected at each point between load and the last effect, give exactly the same
 * incident, every plan exactly once and every page exactly once.
 *
 * The storm is played once on the real correlate and sweep handlers to record its steps (sweep,
 * each input delivered three times, sweep, on a virtual clock). The steps are then played again
 * one by one from a snapshot of the store before each: once without a crash (the reference), and
 * once for every point k of the step (every write to the store, every message enqueued, every
 * signature) with the process dying just before point k, then restarted — sweep, the message
 * delivered again — and the store must hold exactly what the reference holds after that step:
 * the same slices at the same versions, incidents, affected hosts, timeline and plans, no lock
 * and no unfinished decision left; the pages enqueued, counted the way notify delivers them (once
 * per notification id, its delivery log), must be the reference's, in its order. By induction the
 * whole storm then ends the same whatever crashes it went through. It runs twice: with the SQLite
 * store's atomic `commitDecision`, and with the lock protocol DynamoDB commits by.
 */

const CORE = CoreConfig.parse({ maxPlansInFlight: 2 });
const CLIENTS = 5;

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'faultline-crash-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

let files = 0;
const freshPath = (): string => {
  files += 1;
  return join(folder, `store-${files}.db`);
};

const recordStorm = async (deliveries: number) => {
  const store = new SqliteStore({ path: freshPath() });
  const fleet = correlateFleet(store, CORE, { deliveries });
  await playStorm(fleet, { clients: CLIENTS, seed: SEED });
  const output = await fleet.output();
  await store.close();
  return { fleet, output };
};

describe(`correlate under duplicates and crashes (seed ${SEED})`, () => {
  it('applies every message delivered three times exactly as once: one incident, every plan and every page once', async () => {
    const once = await recordStorm(1);
    const thrice = await recordStorm(3);
    expect(once.output.incidents.filter((incident) => incident.kind === 'outage')).toHaveLength(1);
    expect(once.output.plans).toHaveLength(CLIENTS);
    expect(thrice.output).toEqual(once.output);
    expect(thrice.fleet.notifyQueue.sent).toEqual(once.fleet.notifyQueue.sent);
    expect(thrice.fleet.notifyQueue.sent.filter((page) => page.action === 'trigger')).toHaveLength(1);
    expect(thrice.fleet.notifyQueue.sent.filter((page) => page.action === 'resolve')).toHaveLength(1);
    expect(new Set(thrice.fleet.signer.signed).size).toBe(CLIENTS);
    expect(thrice.fleet.signer.signed).toHaveLength(CLIENTS);
  });

  it.each([
    { protocol: 'its atomic commit', lockProtocol: false },
    { protocol: 'the lock protocol', lockProtocol: true },
  ])(
    'ends every step in the same state after a crash at any of its points and a restart ($protocol)',
    {
      timeout: 600_000,
    },
    async ({ lockProtocol }) => {
      const { fleet } = await recordStorm(3);
      const steps: Step[] = fleet.steps;
      const signer = testSigner();
      const reference = new SqliteStore({ path: freshPath() });
      const referenceQueue = capturingQueue();
      let crashes = 0;
      const crashedBefore = new Set<string>();
      let duplicatePages = 0;
      let pointsSeen = 0;
      for (const [index, step] of steps.entries()) {
        const snapshot = freshPath();
        await reference.backup(snapshot);
        const sentBefore = referenceQueue.sent.length;
        await runStep(
          step,
          {
            store: faultyStore(reference, new FaultInjector(), { lockProtocol }),
            signer,
            notifyQueue: referenceQueue,
          },
          CORE,
        );
        const expected = dumpSqliteStore(reference.path);
        const expectedPages = referenceQueue.sent.slice(sentBefore);
        for (let point = 1; ; point += 1) {
          const path = freshPath();
          await copyFile(snapshot, path);
          const store = new SqliteStore({ path });
          const faults = new FaultInjector();
          const queue = capturingQueue();
          const ports = {
            store: faultyStore(store, faults, { lockProtocol }),
            signer: faultySigner(signer, faults),
            notifyQueue: faultyQueue(queue, faults),
          };
          faults.arm(point);
          let failed = false;
          try {
            failed = (await runStep(step, ports, CORE)).length > 0;
          } catch {
            failed = true;
          }
          if (!faults.crashed) {
            // The step has fewer points than this: every point of it was crashed at.
            expect(failed).toBe(false);
            pointsSeen += point - 1;
            await store.close();
            await rm(path, { force: true });
            break;
          }
          crashes += 1;
          crashedBefore.add(String(faults.crashedAt));
          faults.revive();
          // The restart: sweep finishes or aborts what was left, then the message comes back.
          await runStep({ kind: 'sweep', at: step.at }, ports, CORE);
          if (step.kind === 'deliver') {
            const again: Step = {
              ...step,
              record: {
                ...step.record,
                attributes: {
                  ...step.record.attributes,
                  ApproximateReceiveCount: String(Number(step.record.attributes.ApproximateReceiveCount) + 1),
                },
              },
            };
            expect(await runStep(again, ports, CORE)).toEqual([]);
          } else {
            await runStep(step, ports, CORE);
          }
          const context = `step ${index} (${step.kind}), crash before ${faults.crashedAt} (point ${point})`;
          expect(dumpSqliteStore(path), context).toEqual(expected);
          const pages: Notification[] = queue.sent;
          expect(firstOfEach(pages), context).toEqual(expectedPages);
          duplicatePages += pages.length - firstOfEach(pages).length;
          for (const { id } of expected.plans as { id: string }[]) {
            const stored = await store.getPlan(id);
            if (stored !== undefined) expect(verifyPlan(stored.plan, signer.publicKey), context).toBe(true);
          }
          await store.close();
          await rm(path, { force: true });
        }
        await rm(snapshot, { force: true });
      }
      await reference.close();
      console.log(
        `crash safety (${lockProtocol ? 'lock protocol' : 'atomic commit'}): ${steps.length} steps, ${pointsSeen} crash points, ${crashes} crashes recovered, ${duplicatePages} pages enqueued twice (delivered once)`,
      );
      expect(crashes).toBe(pointsSeen);
      // Every kind of point of the commit and of its effects was crashed at.
      const commit = lockProtocol
        ? ['putDecision', 'lockSlice', 'applyLocked', 'setDecisionStatus']
        : ['commitDecision', 'setDecisionStatus'];
      for (const point of [
        ...commit,
        'putSlice',
        'putIncident',
        'putTimeline',
        'putPlan',
        'sign',
        'notify send',
      ]) {
        expect([...crashedBefore]).toContain(point);
      }
    },
  );
});

describe(`a storm with a crash at every 7th point (seed ${SEED})`, () => {
  let dynamo: Dynalite;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  /** Plays recorded steps with a crash at every `period`-th point; after each, a restart: sweep, then the step again. */
  const playWithCrashes = async (steps: readonly Step[], store: Store, period: number) => {
    const faults = new FaultInjector();
    const signer = testSigner();
    const queue = capturingQueue();
    const ports = {
      store: faultyStore(store, faults),
      signer: faultySigner(signer, faults),
      notifyQueue: faultyQueue(queue, faults),
    };
    faults.armEvery(period);
    for (const step of steps) {
      let current = step;
      for (let attempt = 1; ; attempt += 1) {
        const before = faults.crashes;
        let failures: string[] = [];
        try {
          failures = await runStep(current, ports, CORE);
        } catch {
          failures = ['crashed'];
        }
        if (faults.crashes === before && failures.length === 0) break;
        expect(attempt).toBeLessThan(50);
        faults.revive();
        try {
          await runStep({ kind: 'sweep', at: step.at }, ports, CORE);
        } catch {
          faults.revive();
        }
        if (current.kind === 'deliver') {
          current = {
            ...current,
            record: {
              ...current.record,
              attributes: { ...current.record.attributes, ApproximateReceiveCount: String(attempt + 1) },
            },
          };
        }
      }
    }
    faults.disarm();
    const reader = storeFleet(store, CORE, { signer, notifyQueue: queue });
    for (const id of signer.signed) {
      const stored = await store.getPlan(id);
      if (stored !== undefined) expect(verifyPlan(stored.plan, signer.publicKey)).toBe(true);
    }
    return { output: await reader.output(), crashes: faults.crashes, sent: queue.sent };
  };

  for (const backend of ['SQLite', 'DynamoDB'] as const) {
    it(`on ${backend}: ends with the incident, the plans and the pages of the storm without crashes`, {
      timeout: 600_000,
    }, async () => {
      const { fleet, output } = await recordStorm(1);
      const store =
        backend === 'SQLite' ? new SqliteStore({ path: freshPath() }) : (await dynamoStore(dynamo)).store;
      const crashed = await playWithCrashes(fleet.steps, store, 7);
      console.log(`${backend}: ${fleet.steps.length} steps, ${crashed.crashes} crashes`);
      expect(crashed.crashes).toBeGreaterThan(20);
      expect(crashed.output.incidents).toEqual(output.incidents);
      expect(crashed.output.plans).toEqual(output.plans);
      expect(crashed.output.notifications).toEqual(output.notifications);
      expect(crashed.output.timeline).toEqual(output.timeline);
      expect(new Set(crashed.sent.map((page) => page.id)).size).toBe(output.notifications.length);
      await store.close();
    });
  }
});
