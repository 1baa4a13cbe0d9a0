import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import { GUEST_CLAIM, ownerOf } from '../../../functions/core/guests.ts';
import type { GuestListing, InternalInput } from '../../../functions/core/model.ts';
import { at, worldWith } from '../../helpers/core-fleet.ts';
import { ControlDomain, LdomsGuest } from '../../helpers/core-ldoms.ts';

/**
 * DESIGN §3 heartbeat `guests` and §5.8: one control domain at a time places an LDoms guest
 * (functions/core/guests.ts), chosen from the control domains' latest words on it, so whichever order
 * different control domains' words arrive in, the guest ends placed by the same one, on its domains.
 * (Each control domain's own words reach the guest in `seq` order: its slice drops an older heartbeat.)
 */

const RUNS = 300;
const CONTROLS = ['t5-a', 't5-b', 't5-c'].map((name) => new ControlDomain(name, at(-86_400)));
const GUEST = new LdomsGuest('ldg-erp01');

type Word = { control: ControlDomain; seq: number; at: number; listing: GuestListing };

const wordsOf = (control: ControlDomain): fc.Arbitrary<Word[]> =>
  fc
    .array(
      fc.record({
        step: fc.integer({ min: 1, max: 2 * GUEST_CLAIM.lapseRenewals * GUEST_CLAIM.renewSeconds }),
        listing: fc.constantFrom<GuestListing>('active', 'active', 'inactive', 'gone'),
      }),
      { maxLength: 5 },
    )
    .chain((steps) =>
      fc.integer({ min: 0, max: 600 }).map((start) => {
        let time = start;
        return steps.map(({ step, listing }, index) => {
          time += step;
          return { control, seq: index + 1, at: time, listing };
        });
      }),
    );

const inputOf = (word: Word): InternalInput => ({
  type: 'internal.guest-disks',
  hostId: GUEST.hostId,
  control: word.control.hostId,
  seq: word.seq,
  at: at(word.at),
  domains:
    word.listing === 'gone'
      ? {}
      : Object.fromEntries(GUEST.guestDisks(word.control).map((disk) => [disk.disk, disk.failureDomain])),
  listing: word.listing,
  lapsesAt: at(word.at + GUEST_CLAIM.lapseRenewals * GUEST_CLAIM.renewSeconds),
});

/** A delivery order: any interleaving of the control domains' words that keeps each one's in `seq` order. */
const interleaving = (words: Word[][]): fc.Arbitrary<Word[]> =>
  fc.shuffledSubarray(words.flat(), { minLength: words.flat().length }).map((shuffled) => {
    const next = new Map(words.map((own) => [own[0]?.control.hostId, [...own]]));
    return shuffled.map((word) => next.get(word.control.hostId)?.shift() as Word);
  });

const placed = (world: MemoryWorld) => {
  const host = world.hosts.get(GUEST.hostId);
  return {
    control: host?.vdisks?.control,
    domains: host?.vdisks?.domains,
    members: host?.arrays.d10?.members.map((member) => member.failureDomain),
  };
};

const deliver = (order: readonly Word[]) => {
  const { world, feed } = worldWith();
  feed(GUEST.heartbeat(at(0)));
  feed(...order.map(inputOf));
  return world;
};

describe('the placement of an LDoms guest several control domains name', () => {
  test.prop(
    [fc.tuple(...CONTROLS.map(wordsOf)).chain((words) => fc.tuple(fc.constant(words), interleaving(words)))],
    { numRuns: RUNS },
  )('ends with the same owner, on its domains, in any delivery order of their words', ([all, order]) => {
    const inTime = all.flat().sort((a, b) => a.at - b.at || a.seq - b.seq);
    const reference = deliver(inTime);
    const reordered = deliver(order);
    const words = reference.hosts.get(GUEST.hostId)?.vdiskClaims ?? {};
    expect(reordered.hosts.get(GUEST.hostId)?.vdiskClaims ?? {}).toEqual(words);
    // With no control domain listing it active at the end, the guest keeps whatever placement it had.
    const owner = ownerOf(words);
    if (owner === undefined) return;
    const expected = placed(reference);
    expect(expected.control).toBe(owner);
    expect(expected.members).toEqual(Object.values(expected.domains ?? {}));
    expect(placed(reordered)).toEqual(expected);
  });
});
