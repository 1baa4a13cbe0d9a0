import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../events/index.ts';
import type { FakeReplica } from '../../../sim/fake-host/host-model.mjs';
import { createFakeHost, type FakeHost } from '../../helpers/fake-host.ts';
import { execute, guestModel, probeC0d1, replicas, restore, withDataDisk } from './svm-guest.ts';

/**
 * The SVM steps' safety, over random guests (replicas active, in error or inactive on three disks)
 * and random plans of `svm.metareplace`, `svm.wait-sync` and `svm.metadb-restore`: no replica is
 * ever deleted unless every replica on its slice was in error, the slice is on a disk this run
 * re-enabled a component of, every replica on the disks this run did not repair was active and
 * those held at least half of all (so they are a majority of what is left); `-f` is never used; a
 * dry-run changes nothing. The guest has a second mirror on `c0d2` (its data disk, from the same
 * domain as `c0d1`), so plans repair one disk or two. The fake `metadb`,
 * like the real one with `-f`, would delete anything it is asked to; the judgement is the
 * executor's, and the fake records what it was asked with the replicas as they were.
 */

const SLICES = ['c0d0s7', 'c0d1s7', 'c0d1s6', 'c0d2s7'] as const;
const FLAGS = { active: 'apluo', write: 'Wpl', master: 'Mp', inactive: 'pluo' } as const;
type ReplicaKind = keyof typeof FLAGS;

/** Mostly active replicas, sometimes one in error or inactive. */
const kindArbitrary = fc.oneof(
  { weight: 8, arbitrary: fc.constant<ReplicaKind>('active') },
  { weight: 1, arbitrary: fc.constantFrom<ReplicaKind>('write', 'master', 'inactive') },
);
const sliceArbitrary = fc.record({
  count: fc.integer({ min: 0, max: 3 }),
  kinds: fc.array(kindArbitrary, { minLength: 3, maxLength: 3 }),
});

/** The returned disk's slice: mostly all in error, as after a service domain reboot. */
const returnedSliceArbitrary = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      count: fc.integer({ min: 1, max: 3 }),
      kinds: fc.constant<ReplicaKind[]>(['write', 'write', 'write']),
    }),
  },
  { weight: 1, arbitrary: sliceArbitrary },
);

const guestArbitrary = fc.record({
  slices: fc.tuple(
    // The other domain's disk: up to five replicas, so that two returned disks can hold fewer.
    fc.record({
      count: fc.constantFrom(1, 2, 3, 3, 5, 5),
      kinds: fc.array(kindArbitrary, { minLength: 5, maxLength: 5 }),
    }),
    returnedSliceArbitrary,
    // c0d1s6: often none (most guests keep their replicas on one slice per disk).
    fc.oneof(
      { weight: 2, arbitrary: fc.constant({ count: 0, kinds: [] as ReplicaKind[] }) },
      { weight: 1, arbitrary: sliceArbitrary },
    ),
    fc.oneof(sliceArbitrary, returnedSliceArbitrary),
  ),
  maintenance: fc.oneof(
    { weight: 5, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
});

const stepArbitrary: fc.Arbitrary<PlanStep> = fc.oneof(
  fc.constantFrom<PlanStep>(
    { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' },
    { action: 'svm.metareplace', mirror: 'd10', component: 'c0d0s0' },
    { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 600 },
    { action: 'svm.metareplace', mirror: 'd20', component: 'c0d2s0' },
    { action: 'svm.wait-sync', mirror: 'd20', stallSeconds: 600 },
  ),
  fc
    .record({ slice: fc.constantFrom(...SLICES), count: fc.integer({ min: 1, max: 4 }) })
    .map(({ slice, count }) => restore(slice, count)),
);

/** A probe of another of the guest's disks, served by the same domain as `c0d1`. */
const probeOf = (disk: string): PlanStep => ({
  action: 'disk.probe',
  disk,
  failureDomain: 'vdisk:t5-control/alternate',
});

/**
 * Either random steps, or the runbook's shape with a slice and a count near the replicas on it;
 * after one probe, or two (a plan covers every disk of the guest the domain serves, §4).
 */
const planArbitrary = fc.record({
  mode: fc.constantFrom<'execute' | 'dry-run'>('execute', 'execute', 'execute', 'dry-run'),
  probes: fc.constantFrom<[PlanStep, ...PlanStep[]]>(
    [probeC0d1],
    [probeC0d1],
    [probeC0d1, probeOf('c0d2')],
    [probeOf('c0d0'), probeC0d1],
  ),
  steps: fc.array(stepArbitrary, { minLength: 1, maxLength: 5 }),
  runbook: fc.option(
    fc.record({
      slice: fc.oneof(
        { weight: 3, arbitrary: fc.constant('c0d1s7') },
        { weight: 1, arbitrary: fc.constantFrom(...SLICES) },
      ),
      countOffset: fc.constantFrom(0, 0, 0, 1, -1),
      twoDisks: fc.boolean(),
    }),
    { freq: 4 },
  ),
});

const diskOf = (slice: string) => slice.replace(/s\d+$/, '');
const inError = (flags: string) => /[WRMDFSB]/.test(flags);
const active = (flags: string) => flags.includes('a') && !inError(flags);

/**
 * Checks every `metadb -d` the run asked for against the replicas as they were then: its slice on
 * a disk this run re-enabled a component of, all in error, every replica off the repaired disks
 * active and at least half of all, so a majority of what is left; never `-f`. Returns how many
 * deletes there were, and how many left replicas in error on another repaired disk.
 */
const checkDeletes = (host: FakeHost): { deleted: number; besideErred: number } => {
  let deleted = 0;
  let besideErred = 0;
  const repaired = new Set<string>();
  for (const entry of host.actionLog()) {
    const [program, ...args] = entry.argv;
    expect(args, entry.argv.join(' ')).not.toContain('-f');
    if (program === 'metareplace' && args[2] !== undefined) repaired.add(diskOf(args[2]));
    if (program !== 'metadb' || args[0] !== '-d') continue;
    deleted += 1;
    const slice = args[1] ?? '';
    const before = entry.replicasBefore ?? [];
    const onSlice = before.filter((replica) => replica.device === slice);
    const others = before.filter((replica) => !repaired.has(diskOf(replica.device)));
    expect(repaired.has(diskOf(slice)), `${slice} on a disk this run did not repair`).toBe(true);
    expect(onSlice.length).toBeGreaterThan(0);
    expect(
      onSlice.every((replica) => inError(replica.flags)),
      `${slice}: ${JSON.stringify(before)}`,
    ).toBe(true);
    expect(
      others.every((replica) => active(replica.flags)),
      JSON.stringify(before),
    ).toBe(true);
    expect(others.length * 2, JSON.stringify(before)).toBeGreaterThanOrEqual(before.length);
    // What is left after the delete: the replicas off the repaired disks are its majority.
    const left = before.filter((replica) => replica.device !== slice);
    expect(others.length * 2).toBeGreaterThan(left.length);
    if (left.some((replica) => inError(replica.flags))) besideErred += 1;
  }
  return { deleted, besideErred };
};

describe('svm safety (property)', () => {
  it('never deletes a replica unless its slice is all in error on a repaired disk and the others hold the majority; never -f', async () => {
    let deleted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(guestArbitrary, planArbitrary, async (shape, planShape) => {
        const metadb: FakeReplica[] = shape.slices.flatMap((spec, index) =>
          spec.kinds
            .slice(0, spec.count)
            .map((kind) => ({ device: SLICES[index] ?? 'c0d0s7', flags: FLAGS[kind] })),
        );
        const model = withDataDisk(guestModel(metadb));
        if (!shape.maintenance) {
          for (const submirror of model.svm?.mirrors[0]?.submirrors ?? []) {
            submirror.state = 'Okay';
            for (const component of submirror.components) component.state = 'Okay';
          }
        }
        const host = createFakeHost(model, { programs: false });
        try {
          const runbook = planShape.runbook;
          const steps: PlanStep[] =
            runbook === null
              ? planShape.steps
              : [
                  { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' },
                  ...(runbook.twoDisks
                    ? [{ action: 'svm.metareplace', mirror: 'd20', component: 'c0d2s0' } as const]
                    : []),
                  { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 600 },
                  ...(runbook.twoDisks
                    ? [{ action: 'svm.wait-sync', mirror: 'd20', stallSeconds: 600 } as const]
                    : []),
                  restore(
                    runbook.slice,
                    Math.max(
                      1,
                      metadb.filter((replica) => replica.device === runbook.slice).length +
                        runbook.countOffset,
                    ),
                  ),
                  // The planner's order: the second returned disk's slice after the first's.
                  ...(runbook.twoDisks
                    ? [restore('c0d2s7', metadb.filter((replica) => replica.device === 'c0d2s7').length)]
                    : []),
                ];
          const probes: [PlanStep, ...PlanStep[]] =
            runbook?.twoDisks === true ? [probeC0d1, probeOf('c0d2')] : planShape.probes;
          const { execution } = await execute(host, [...probes, ...steps], {
            mode: planShape.mode,
            inProcess: true,
          });
          if (planShape.mode === 'dry-run') expect(host.actions()).toEqual([]);
          if (execution.outcome === 'refused') refused += 1;
          const checked = checkDeletes(host);
          deleted += checked.deleted;
        } finally {
          host.remove();
        }
      }),
      { numRuns: 200 },
    );
    // The generators reach both sides: replicas re-created, and plans refused.
    expect(deleted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(10);
  }, 240_000);
  it('re-creates the replicas of two returned disks in turn, only while those off them hold a majority', async () => {
    let besideErred = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          primary: fc.array(kindArbitrary, { minLength: 1, maxLength: 6 }),
          root: fc.integer({ min: 1, max: 3 }),
          data: fc.integer({ min: 0, max: 3 }),
          mode: fc.constantFrom<'execute' | 'dry-run'>('execute', 'execute', 'execute', 'dry-run'),
        }),
        async ({ primary, root, data, mode }) => {
          const metadb: FakeReplica[] = [
            ...primary.map((kind) => ({ device: 'c0d0s7', flags: FLAGS[kind] })),
            ...replicas('c0d1s7', root, FLAGS.write),
            ...replicas('c0d2s7', data, FLAGS.write),
          ];
          const host = createFakeHost(withDataDisk(guestModel(metadb)), { programs: false });
          try {
            const { execution } = await execute(
              host,
              [
                probeC0d1,
                probeOf('c0d2'),
                { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' },
                { action: 'svm.metareplace', mirror: 'd20', component: 'c0d2s0' },
                { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 600 },
                { action: 'svm.wait-sync', mirror: 'd20', stallSeconds: 600 },
                restore('c0d1s7', root),
                ...(data > 0 ? [restore('c0d2s7', data)] : []),
              ],
              { mode, inProcess: true },
            );
            if (mode === 'dry-run') expect(host.actions()).toEqual([]);
            if (execution.outcome === 'refused') refused += 1;
            besideErred += checkDeletes(host).besideErred;
          } finally {
            host.remove();
          }
        },
      ),
      { numRuns: 80 },
    );
    // Both sides again: a disk's replicas re-created while the other's were in error, and refusals.
    expect(besideErred).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(5);
  }, 240_000);
});
