import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import { GUEST_CLAIM, ownerOf } from '../../../functions/core/guests.ts';
import type { GuestListing, InternalInput } from '../../../functions/core/model.ts';
import { at, worldWith } from '../../helpers/core-fleet.ts';
import { ControlDomain, LdomsGuest } from '../../helpers/core-ldoms.ts';

/**
 * DESIGN §3 heartbeat `guests` and §5.8: one control domain at a time places an LDoms guest
 * (functions/core/guests.ts), its owner, found from the control domains' words on it, so whichever
 * order different control domains' words arrive in, the guest ends placed by the same one, on its
 * domains: the one the rule picks when the words are gone through in time order. The owner is sticky:
 * it keeps the guest until it no longer lists it active (or lapsed) and another control domain began
 * listing it active after it last did, so one listing it active all along never takes it over.
 * (Each control domain's own words reach the guest in `seq` order: its slice drops an older heartbeat.)
 */

const RUNS = 300;
const CONTROLS = ['t5-a', 't5-b', 't5-c'].map((name) => new ControlDomain(name, at(-86_400)));
const GUEST = new LdomsGuest('ldg-erp01');

const LAPSE_SECONDS = GUEST_CLAIM.lapseRenewals * GUEST_CLAIM.renewSeconds;

/** One word of a control domain on the guest; `heard`: when its heartbeat before it was received. */
type Word = { control: ControlDomain; seq: number; at: number; listing: GuestListing; heard?: number };

const wordsOf = (control: ControlDomain): fc.Arbitrary<Word[]> =>
  fc
    .array(
      fc.record({
        step: fc.integer({ min: 1, max: 2 * LAPSE_SECONDS }),
        listing: fc.constantFrom<GuestListing>('active', 'active', 'inactive', 'gone'),
        lag: fc.nat(),
      }),
      { maxLength: 5 },
    )
    .chain((steps) =>
      fc.integer({ min: 0, max: 600 }).map((start) => {
        let time = start;
        return steps.map(({ step, listing, lag }, index) => {
          time += step;
          // Its heartbeats come in between its words (a word comes only when its listing changed, or
          // with a renewal): the one just before this word, anywhere after the word before it.
          const heard = index === 0 ? {} : { heard: time - 1 - (lag % step) };
          return { control, seq: index + 1, at: time, listing, ...heard };
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
  lapsesAt: at(word.at + LAPSE_SECONDS),
  ...(word.heard === undefined ? {} : { previousAt: at(word.heard) }),
});

/** One active listing in the model, in seconds: `end` is the first moment it no longer stands. */
type Run = { control: string; since: number; until: number; end: number };

/** Just after a time, in seconds: a word stands through its lapse time (the core counts milliseconds). */
const JUST_AFTER = 0.001;

/**
 * The model's runs of one control domain, from all its words (none forgotten): an active listing goes
 * on while each word comes before the last one lapsed; it lasted until the heartbeat before the word
 * that ended it (`heard`), within its lapse.
 */
const runsOf = (words: readonly Word[], newest: number): Run[] => {
  const runs: Run[] = [];
  let open: { since: number; last: number } | undefined;
  for (const word of words) {
    const control = word.control.hostId;
    if (open !== undefined) {
      const lapsed = word.at > open.last + LAPSE_SECONDS;
      if (!lapsed && word.listing === 'active') {
        open.last = word.at;
        continue;
      }
      const bound = lapsed ? open.last + LAPSE_SECONDS : word.at;
      const until = Math.max(open.last, Math.min(word.heard ?? open.last, bound));
      runs.push({ control, since: open.since, until, end: lapsed ? bound + JUST_AFTER : word.at });
      open = undefined;
    }
    if (word.listing === 'active') open = { since: word.at, last: word.at };
  }
  const last = words.at(-1);
  if (open !== undefined && last !== undefined) {
    const lapses = open.last + LAPSE_SECONDS;
    const end = lapses < newest ? lapses + JUST_AFTER : Number.POSITIVE_INFINITY;
    runs.push({ control: last.control.hostId, since: open.since, until: open.last, end });
  }
  return runs;
};

/**
 * The owner by the rule, moment by moment in time order: the first listing owns it; the owner keeps
 * it while it stands, then goes to a listing standing that began after the owner's last active moment.
 */
const modelOwner = (all: readonly Word[][]): string | undefined => {
  const newest = Math.max(...all.flat().map((word) => word.at));
  const runs = all.flatMap((words) => runsOf(words, newest));
  const senior = (candidates: Run[]) =>
    [...candidates].sort((a, b) => a.since - b.since || (a.control < b.control ? -1 : 1))[0]?.control;
  const moments = [...new Set(runs.flatMap((run) => [run.since, run.end]))]
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  let owner: string | undefined;
  for (const moment of moments) {
    const standing = runs.filter((run) => run.since <= moment && moment < run.end);
    const current = owner;
    if (current === undefined) owner = senior(standing);
    else if (!standing.some((run) => run.control === current)) {
      const ownerRuns = runs.filter((run) => run.control === current && run.since <= moment);
      const lastActive = Math.max(...ownerRuns.map((run) => run.until));
      owner = senior(standing.filter((run) => run.since > lastActive)) ?? current;
    }
  }
  return owner;
};

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
  )(
    'ends with the owner the rule picks, on its domains, in any delivery order of their words',
    ([all, order]) => {
      const inTime = all.flat().sort((a, b) => a.at - b.at || a.seq - b.seq);
      const reference = deliver(inTime);
      const reordered = deliver(order);
      const words = reference.hosts.get(GUEST.hostId)?.vdiskClaims ?? {};
      expect(reordered.hosts.get(GUEST.hostId)?.vdiskClaims ?? {}).toEqual(words);
      const owner = ownerOf(words);
      expect(owner).toBe(modelOwner(all));
      // No control domain ever listed it active: nothing places it.
      if (owner === undefined) return;
      const expected = placed(reference);
      expect(expected.control).toBe(owner);
      expect(expected.members).toEqual(Object.values(expected.domains ?? {}));
      expect(placed(reordered)).toEqual(expected);
    },
  );

  /** The owner's words: its first active, then any, none later than half a lapse after the one before. */
  const ownerWords = (control: ControlDomain): fc.Arbitrary<Word[]> =>
    fc
      .array(
        fc.record({
          step: fc.integer({ min: 60, max: LAPSE_SECONDS / 2 }),
          listing: fc.constantFrom<GuestListing>('active', 'inactive', 'gone'),
        }),
        { minLength: 1, maxLength: 8 },
      )
      .map((steps) => {
        let time = 10;
        const words: Word[] = [{ control, seq: 1, at: time, listing: 'active' }];
        for (const { step, listing } of steps) {
          time += step;
          words.push({ control, seq: words.length + 1, at: time, listing, heard: time - 30 });
        }
        return words;
      });

  /** Another control domain's words: active from before the owner's next heartbeat, renewed to the end. */
  const allAlong = (control: ControlDomain, until: number): fc.Arbitrary<Word[]> =>
    fc.integer({ min: 11, max: 39 }).map((start) => {
      const words: Word[] = [];
      for (let time = start; time <= until + GUEST_CLAIM.renewSeconds; time += GUEST_CLAIM.renewSeconds)
        words.push({ control, seq: words.length + 1, at: time, listing: 'active' });
      return words;
    });

  const [OWNER, ROGUE] = CONTROLS as [ControlDomain, ControlDomain, ControlDomain];
  test.prop(
    [
      ownerWords(OWNER)
        .chain((own) => fc.tuple(fc.constant(own), allAlong(ROGUE, own.at(-1)?.at ?? 0)))
        .chain((words) => interleaving(words)),
    ],
    { numRuns: RUNS },
  )(
    'stays with its owner through any stops and starts while another control domain lists it active all along',
    (order) => {
      const world = deliver(order);
      expect(placed(world).control).toBe(OWNER.hostId);
      expect(placed(world).domains).toEqual({ c0d0: OWNER.primary, c0d1: OWNER.alternate });
    },
  );
});
