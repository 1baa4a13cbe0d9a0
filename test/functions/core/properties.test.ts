import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import { replay, replayOutput } from '../../../cli/replay/replay.ts';
import { canonicalJson, type FaultlineEvent } from '../../../events/index.ts';
import { Agent, at, vscsi } from '../../helpers/core-fleet.ts';
import { type FleetSpec, simulate } from '../../helpers/core-sim.ts';

const RUNS = 1000;

const client = fc.record({
  delay: fc.integer({ min: 0, max: 60 }),
  late: fc.boolean(),
  doubleFault: fc.boolean(),
  duplicate: fc.boolean(),
  workSeconds: fc.integer({ min: 10, max: 400 }),
});

const fleet = (flaps: fc.Arbitrary<number[]>): fc.Arbitrary<FleetSpec> =>
  fc.record({
    seed: fc.integer(),
    clients: fc.array(client, { minLength: 2, maxLength: 9 }),
    upAfter: fc.integer({ min: 90, max: 1200 }),
    flaps,
    maxPlansInFlight: fc.integer({ min: 1, max: 4 }),
  });

describe('the core under random fleets and interleavings', () => {
  test.prop([fleet(fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 3 }))], { numRuns: RUNS })(
    'is safe: no step on the last in-sync member or a double fault, no plan before up and stable, never more than N in flight',
    (spec) => {
      const { violations } = simulate(spec);
      expect(violations).toEqual([]);
    },
  );

  test.prop([fleet(fc.constant([]))], { numRuns: RUNS })(
    'is live: every single fault on a domain that comes back and stays up is planned exactly once, and the incident resolves',
    (spec) => {
      const { world, plansByHost, clients } = simulate(spec);
      clients.forEach((client, index) => {
        const shape = spec.clients[index] as FleetSpec['clients'][number];
        const plans = plansByHost.get(client.hostId) ?? [];
        expect(plans.length, client.hostId).toBe(shape.doubleFault ? 0 : 1);
      });
      const outage = [...world.incidents.values()].find((incident) => incident.kind === 'outage');
      const singleFaults = spec.clients.filter((shape) => !shape.doubleFault).length;
      if (singleFaults >= 1) expect(outage?.status).toBe('resolved');
    },
  );

  const mirrorHistory = fc.array(
    fc.record({
      kind: fc.constantFrom('degraded', 'recovering', 'healthy'),
      progress: fc.integer({ min: 0, max: 100 }),
    }),
    { minLength: 1, maxLength: 12 },
  );

  const eventsOf = (host: Agent, history: { kind: string; progress: number }[]): FaultlineEvent[] =>
    history.map(({ kind, progress }, index) => {
      const members = [
        { device: 'sdc1', disk: 'sdc', state: 'in-sync' as const, failureDomain: vscsi('vios1') },
        {
          device: 'sdk1',
          disk: 'sdk',
          state:
            kind === 'healthy'
              ? ('in-sync' as const)
              : kind === 'recovering'
                ? ('rebuilding' as const)
                : ('faulty' as const),
          failureDomain: vscsi('vios2'),
        },
      ];
      const time = at(10 + index);
      if (kind === 'degraded')
        return host.event(
          'mirror.degraded',
          'md0',
          { array: 'md0', kind: 'md', level: 'raid1', members },
          time,
        );
      if (kind === 'recovering') {
        return host.event(
          'mirror.recovering',
          'md0',
          { array: 'md0', kind: 'md', level: 'raid1', members, progress },
          time,
        );
      }
      return host.event('mirror.healthy', 'md0', { array: 'md0', kind: 'md', level: 'raid1', members }, time);
    });

  test.prop([fc.array(mirrorHistory, { minLength: 1, maxLength: 4 }), fc.integer()], { numRuns: RUNS })(
    'converges: duplicates change nothing and per-agent reordering gives the same final state',
    (histories, seed) => {
      const streams = histories.map((history, index) => eventsOf(new Agent(`host${index}`), history));
      const inOrder = new MemoryWorld();
      for (const event of streams.flat()) inOrder.apply(event, at(100));
      const shuffled = new MemoryWorld();
      const mixed =
        fc.sample(fc.shuffledSubarray(streams.flat(), { minLength: streams.flat().length }), {
          seed,
          numRuns: 1,
        })[0] ?? [];
      for (const event of [...mixed, ...mixed]) shuffled.apply(event, at(100));
      for (const [hostId, host] of inOrder.hosts) {
        const other = shuffled.hosts.get(hostId);
        expect(canonicalJson(other?.arrays)).toBe(canonicalJson(host.arrays));
      }
    },
  );

  test.prop([fleet(fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 2 }))], { numRuns: RUNS })(
    'is deterministic: replaying what a fleet sent gives byte-identical output, the same as it lived',
    (spec) => {
      const { world, inputs, end, config } = simulate(spec);
      const first = canonicalJson(replay(inputs, { until: end, config }));
      const second = canonicalJson(replay(inputs, { until: end, config }));
      expect(second).toBe(first);
      expect(first).toBe(canonicalJson(replayOutput(world)));
    },
  );
});
