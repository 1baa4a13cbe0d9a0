// The order of an incident's notifications (DESIGN §6 "Notifications", issue #18): the core numbers
// them as it makes them, on the incident itself, so that notify can keep each destination's pages in
// that order across batches and consumers, and drop a trigger that arrives after its resolve.
import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { UnsignedPlan } from '../../../events/index.ts';
import {
  Agent,
  at,
  hostNames,
  multipathHeartbeat,
  pathEvent,
  progressOf,
  random,
  SEED,
  worldWith,
} from '../../helpers/core-fleet.ts';

const outage = (world: MemoryWorld) => [...world.incidents.values()].find((i) => i.kind === 'outage');

/** Every incident's notifications numbered 1, 2, 3... in the order the core made them. */
const numberedInOrder = (world: MemoryWorld): void => {
  const byIncident = new Map<string, (number | undefined)[]>();
  for (const notification of world.notifications) {
    byIncident.set(notification.incidentId, [
      ...(byIncident.get(notification.incidentId) ?? []),
      notification.sequence,
    ]);
  }
  for (const [incidentId, sequences] of byIncident) {
    expect(sequences, incidentId).toEqual(sequences.map((_, index) => index + 1));
    expect(world.incidents.get(incidentId)?.notificationSequence, incidentId).toBe(sequences.length);
  }
};

describe(`the sequence of an incident's notifications (seed ${SEED})`, () => {
  it('numbers its page 1, its escalation 2 and its resolve 3, and keeps the count on the incident', () => {
    // Twelve hosts lose a path through one port; all but one get it back by themselves; the last
    // one's reinstate does not stick past the stall limit (escalated), then it comes back.
    const rng = random(SEED);
    const hosts = hostNames(rng, 12, 'db').map((name) => new Agent(name));
    const { world, feed } = worldWith();
    hosts.forEach((host, index) => {
      feed(pathEvent(host, 'path.lost', 10 + index, 'sdq', 'failed', 1));
    });
    const [stuck, ...others] = hosts as [Agent, ...Agent[]];
    others.forEach((host, index) => {
      feed(pathEvent(host, 'path.restored', 100 + index, 'sdq', 'active', 2));
    });
    world.fireDue(at(221));
    const plan = world.plans[0] as UnsignedPlan;
    feed(...progressOf(stuck, plan, 230));
    for (let beat = 240; beat <= 231 + 960; beat += 60) feed(multipathHeartbeat(stuck, beat, 'failed'));
    world.fireDue(at(231 + 960));
    feed(pathEvent(stuck, 'path.restored', 231 + 1_000, 'sdq', 'active', 2));
    world.fireDue(at(231 + 1_200));

    const incident = outage(world);
    expect(incident?.status).toBe('resolved');
    const pages = world.notifications.filter((notification) => notification.incidentId === incident?.id);
    expect(pages.map((page) => [page.action, page.severity, page.sequence])).toEqual([
      ['trigger', 'error', 1],
      ['trigger', 'critical', 2],
      ['resolve', 'info', 3],
    ]);
    numberedInOrder(world);
  });
});
