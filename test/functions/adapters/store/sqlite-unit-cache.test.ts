import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type {
  DecisionRecord,
  SliceRef,
  SliceWrite,
  Store,
  StoredSlice,
} from '../../../../functions/adapters/store/port.ts';
import { SqliteStore } from '../../../../functions/adapters/store/sqlite-store.ts';
import { CoreConfig, type DomainSlice, freshDomain, freshHost } from '../../../../functions/core/index.ts';
import { SEED } from '../../../helpers/core-fleet.ts';
import { correlateFleet } from '../../../helpers/store-correlate.ts';
import { playStorm } from '../../../helpers/store-fleet.ts';
import { dumpSqliteStore, tempSqliteStore } from '../../../helpers/store-sqlite.ts';
import { openDomain, storeContract } from './contract.ts';

/**
 * The SQLite store inside a unit (functions/adapters/store/sqlite/database.ts `SqliteFile.unit`),
 * where the unit holds the slices, the decision records and the incident, affected-host and
 * timeline rows it read or wrote, and writes them back once as it commits (sqlite/unit-rows.ts): the port's contract holds unchanged, a
 * failed call or unit leaves nothing behind, and the file ends as the same calls leave it outside
 * a unit.
 */

/**
 * `store` with every call made inside one unit of its file, open until `end`: how a correlate
 * batch meets the store, for as long as a test runs. Calls run one at a time, in the order made.
 */
const insideOneUnit = (store: SqliteStore): { readonly store: Store; readonly end: () => Promise<void> } => {
  const calls: (() => Promise<void>)[] = [];
  let resume: () => void = () => undefined;
  let ending = false;
  const unit = store.unit(async () => {
    for (;;) {
      const call = calls.shift();
      if (call !== undefined) await call();
      else if (ending) return;
      else
        await new Promise<void>((resumed) => {
          resume = resumed;
        });
    }
  });
  const inside = new Proxy<Store>(store, {
    get(target, name) {
      const member: unknown = Reflect.get(target, name);
      if (typeof member !== 'function' || name === 'close' || name === 'unit') return member;
      return (...args: unknown[]) =>
        new Promise((resolve, reject) => {
          calls.push(() => (async () => member.apply(target, args))().then(resolve, reject));
          resume();
        });
    },
  });
  return {
    store: inside,
    end: async () => {
      ending = true;
      resume();
      await unit;
    },
  };
};

storeContract('SQLite, every call inside one open unit', async () => {
  const { store, cleanup } = await tempSqliteStore();
  const unit = insideOneUnit(store);
  return {
    store: unit.store,
    cleanup: async () => {
      await unit.end();
      await cleanup();
    },
  };
});

const T = (seconds: number): string => new Date(Date.UTC(2026, 10, 22, 3, 0, seconds)).toISOString();
const H1: SliceRef = { kind: 'host', id: 'h1' };
const D1: SliceRef = { kind: 'domain', id: 'd1' };
const D2: SliceRef = { kind: 'domain', id: 'd2' };
const CONTROL: SliceRef = { kind: 'control' };

const hostWrite = (expected: number, wakeAt?: string): SliceWrite => ({
  ref: H1,
  expected,
  value: { ...freshHost('h1'), lastSeq: expected + 1, ...(wakeAt === undefined ? {} : { wakeAt }) },
  applied: [`dec-${expected + 1}`],
});

const domainWrite = (expected: number, value: DomainSlice = freshDomain('d1')): SliceWrite => ({
  ref: D1,
  expected,
  value,
  applied: [`dec-${expected + 1}`],
});

const decision = (
  writes: readonly SliceWrite[],
  overrides: Partial<DecisionRecord> = {},
): DecisionRecord => ({
  id: 'dec-a',
  attempt: 1,
  status: 'pending',
  at: T(5),
  createdAt: 1_000,
  about: 'a test decision',
  writes,
  effects: [{ type: 'timeline', entry: { id: 'tln-1', incidentId: 'inc-1', at: T(5), text: 'x' } }],
  done: [],
  ...overrides,
});

const versions = async (store: Store, ...refs: SliceRef[]): Promise<number[]> =>
  (await store.getSlices(refs)).map((slice) => slice.version);

/** Rows of the file as another connection reads them. */
const fileRows = (path: string, sql: string): unknown[] => {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
};

/** Every row of `slices` in the file, placeholders and locks included, as another connection reads it. */
const sliceRows = (path: string): unknown[] => {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT * FROM slices ORDER BY kind, id').all();
  } finally {
    db.close();
  }
};

describe('the SQLite store inside a unit', () => {
  it('serves the slices from memory once read or written in the unit: control and domains frozen, hosts parsed anew from their text', async () => {
    const { store, cleanup } = await tempSqliteStore();
    expect(await store.putSlice(domainWrite(0, openDomain('d1')))).toBe('ok');
    expect(await store.putSlice(hostWrite(0))).toBe('ok');
    const pause: SliceWrite = { ref: CONTROL, expected: 0, value: { paused: true }, applied: ['dec-1'] };
    await store.unit(async () => {
      // Read from the file once, then from memory: the same value each time, frozen all the way down.
      const [read] = (await store.getSlices([D1])) as [StoredSlice];
      const [readAgain] = (await store.getSlices([D1])) as [StoredSlice];
      expect(read).toMatchObject({ version: 1, value: openDomain('d1'), applied: ['dec-1'] });
      expect(readAgain.value).toBe(read.value);
      expect(Object.isFrozen((read.value as DomainSlice).episode?.incident)).toBe(true);
      expect(Object.isFrozen(read.applied)).toBe(true);
      // Written, then read: the value written, which no caller can change any more.
      expect(await store.putSlice(pause)).toBe('ok');
      const [control] = (await store.getSlices([CONTROL])) as [StoredSlice];
      expect(control).toMatchObject({ version: 1, value: { paused: true }, applied: ['dec-1'] });
      expect(control.value).toBe(pause.value);
      expect(() => {
        (control.value as { paused: boolean }).paused = false;
      }).toThrow(TypeError);
      expect(await store.getControl()).toEqual({ paused: true });
      // A host slice is held as its text: each read parses it anew, as a read of the file would.
      const [host] = (await store.getSlices([H1])) as [StoredSlice];
      const [hostAgain] = (await store.getSlices([H1])) as [StoredSlice];
      expect(hostAgain).toEqual(host);
      expect(hostAgain.value).not.toBe(host.value);
      expect(Object.isFrozen(host.value)).toBe(false);
    });
    const [outside, outsideControl] = (await store.getSlices([D1, CONTROL])) as [StoredSlice, StoredSlice];
    const [outsideAgain] = (await store.getSlices([D1])) as [StoredSlice];
    expect(outside).toMatchObject({ version: 1, value: openDomain('d1') });
    expect(outsideControl).toMatchObject({ version: 1, value: { paused: true } });
    expect(Object.isFrozen(outside.value)).toBe(false);
    expect(outsideAgain.value).not.toBe(outside.value);
    await cleanup();
  });

  it('reports a stale or locked conditional write as a conflict, and writes nothing of it', async () => {
    const { store, path, cleanup } = await tempSqliteStore();
    await store.unit(async () => {
      expect(await store.putSlice(domainWrite(0))).toBe('ok');
      expect(await store.putSlice(domainWrite(0))).toBe('conflict');
      expect(await store.commitDecision?.(decision([hostWrite(0), domainWrite(0)]))).toBe('conflict');
      expect(await store.getDecision('dec-a')).toBeUndefined();
      expect(await versions(store, H1, D1)).toEqual([0, 1]);
      expect(await store.lockSlice(D1, 0, 'a#1')).toBe('conflict');
      expect(await store.lockSlice(D1, 1, 'a#1')).toBe('ok');
      expect(await store.lockSlice(D1, 1, 'a#1')).toBe('ok');
      expect(await store.lockSlice(D1, 1, 'b#1')).toBe('conflict');
      expect(await store.putSlice(domainWrite(1))).toBe('conflict');
      expect(await store.commitDecision?.(decision([hostWrite(0), domainWrite(1)]))).toBe('conflict');
      expect(await store.applyLocked(domainWrite(1), 'b#1')).toBe('conflict');
      await store.unlockSlice(D1, 'b#1');
      expect((await store.getSlices([D1]))[0]?.lock).toBe('a#1');
      expect(await store.applyLocked(domainWrite(1), 'a#1')).toBe('ok');
      expect(await store.applyLocked(domainWrite(2), 'a#1')).toBe('conflict');
      expect(await store.commitDecision?.(decision([hostWrite(0), domainWrite(2)]))).toBe('ok');
      expect(await store.commitDecision?.(decision([hostWrite(1), domainWrite(3)], { id: 'dec-b' }))).toBe(
        'ok',
      );
      expect(await store.commitDecision?.(decision([hostWrite(2), domainWrite(3)], { id: 'dec-c' }))).toBe(
        'conflict',
      );
      expect(await versions(store, H1, D1)).toEqual([2, 4]);
    });
    expect(await versions(store, H1, D1)).toEqual([2, 4]);
    expect(sliceRows(path)).toMatchObject([
      { kind: 'domain', id: 'd1', version: 4, lock: null, applied: JSON.stringify(['dec-4']) },
      { kind: 'host', id: 'h1', version: 2, lock: null, value: JSON.stringify(hostWrite(1).value) },
    ]);
    await cleanup();
  });

  it('leaves the slices as they were before a call that throws, in memory as in the file', async () => {
    const { store, path, cleanup } = await tempSqliteStore();
    await store.unit(async () => {
      expect(await store.putSlice(hostWrite(0))).toBe('ok');
      expect(await store.lockSlice(D2, 0, 'a#1')).toBe('ok');
      // The slices are checked and set, then the record cannot be written (JSON has no BigInt).
      const unwritable = decision([hostWrite(1), domainWrite(0)], {
        effects: [
          { type: 'timeline', entry: { id: 'tln-1', incidentId: 'inc-1', at: T(5), text: 1n as never } },
        ],
      });
      await expect(store.commitDecision?.(unwritable)).rejects.toMatchObject({ code: 'store-rejected' });
      const [host, domain] = await store.getSlices([H1, D1]);
      expect(host).toMatchObject({ version: 1, value: hostWrite(0).value, applied: ['dec-1'] });
      expect(domain).toMatchObject({ version: 0, value: undefined });
      expect(await store.getDecision('dec-a')).toBeUndefined();
      expect(await store.commitDecision?.(decision([hostWrite(1), domainWrite(0)]))).toBe('ok');
      expect(await versions(store, H1, D1)).toEqual([2, 1]);
    });
    expect(await versions(store, H1, D1)).toEqual([2, 1]);
    expect(sliceRows(path)).toMatchObject([
      { kind: 'domain', id: 'd1', version: 1 },
      { kind: 'domain', id: 'd2', version: 0, value: null, lock: 'a#1' },
      { kind: 'host', id: 'h1', version: 2 },
    ]);
    await cleanup();
  });

  it('takes back an affected-host or timeline row whose call failed, and writes the others as it commits', async () => {
    const { store, path, cleanup } = await tempSqliteStore();
    const row = {
      incidentId: 'inc-1',
      hostId: 'h1',
      failureDomain: 'd1',
      status: 'waiting',
      joinedAt: T(1),
      attempt: 0,
    } as const;
    const entry = { id: 'tln-1', incidentId: 'inc-1', at: T(1), text: 'vios2 went down' };
    await store.unit(async () => {
      await store.putAffectedHost(row, 1);
      // Neither can be serialised (JSON has no BigInt): each call fails, and leaves what was there.
      await expect(store.putAffectedHost({ ...row, attempt: 1n as never }, 2)).rejects.toMatchObject({
        code: 'store-rejected',
      });
      await expect(store.putTimeline({ ...entry, text: 2n as never })).rejects.toMatchObject({
        code: 'store-rejected',
      });
      await store.putAffectedHost({ ...row, status: 'planned' }, 3);
      await store.putAffectedHost({ ...row, status: 'healthy' }, 2);
      await store.putTimeline(entry);
      await store.putTimeline({ ...entry, text: 'the same id again' });
    });
    expect(fileRows(path, 'SELECT host_id, status, revision FROM affected')).toEqual([
      { host_id: 'h1', status: 'planned', revision: 3 },
    ]);
    expect(fileRows(path, 'SELECT id, body FROM timeline')).toEqual([
      { id: 'tln-1', body: JSON.stringify(entry) },
    ]);
    await cleanup();
  });

  it('leaves nothing in the file and nothing in memory when the unit throws', async () => {
    const { store, path, cleanup } = await tempSqliteStore();
    const waking = { ...openDomain('d1'), wakeAt: T(10) };
    await expect(
      store.unit(async () => {
        expect(await store.putSlice(hostWrite(0))).toBe('ok');
        expect(await store.putSlice(domainWrite(0, waking))).toBe('ok');
        expect(await store.lockSlice(D2, 0, 'a#1')).toBe('ok');
        expect(await store.dueWakes(T(60), 10)).toHaveLength(1);
        throw new Error('crash');
      }),
    ).rejects.toThrow('crash');
    expect(sliceRows(path)).toEqual([]);
    const never = { version: 0, value: undefined, lock: undefined };
    expect(await store.getSlices([H1, D1, D2])).toMatchObject([never, never, never]);
    // The next unit starts from the file, not from what the failed one held.
    await store.unit(async () => {
      expect(await store.getSlices([H1, D1, D2])).toMatchObject([never, never, never]);
      expect(await store.dueWakes(T(60), 10)).toEqual([]);
      expect(await store.openDomains()).toEqual([]);
      expect(await store.putSlice(domainWrite(0))).toBe('ok');
    });
    expect(await versions(store, H1, D1, D2)).toEqual([0, 1, 0]);
    await cleanup();
  });

  it('answers due wakes, open domains and the host list with the slices written earlier in the unit', async () => {
    const { store, cleanup } = await tempSqliteStore();
    await store.unit(async () => {
      expect(await store.putSlice(hostWrite(0, T(10)))).toBe('ok');
      expect(await store.putSlice(domainWrite(0, { ...openDomain('d1'), wakeAt: T(5) }))).toBe('ok');
      expect(await store.lockSlice({ kind: 'host', id: 'h0' }, 0, 'a#1')).toBe('ok');
      expect(await store.lockSlice(D2, 0, 'a#1')).toBe('ok');
      expect(await store.dueWakes(T(60), 10)).toEqual([
        { kind: 'domain', id: 'd1', at: T(5) },
        { kind: 'host', id: 'h1', at: T(10) },
      ]);
      expect(await store.openDomains()).toEqual(['d1']);
      expect((await store.listHosts()).items.map((host) => host.hostId)).toEqual(['h1']);
      // Written again after they were written back: the queries follow.
      expect(await store.putSlice(hostWrite(1))).toBe('ok');
      expect(await store.putSlice(domainWrite(1))).toBe('ok');
      expect(await store.dueWakes(T(60), 10)).toEqual([]);
      expect(await store.openDomains()).toEqual([]);
      expect((await store.listHosts()).items[0]?.lastSeq).toBe(2);
    });
    await cleanup();
  });

  it('shows another connection nothing before the unit commits and everything after', async () => {
    const { store, path, cleanup } = await tempSqliteStore();
    const other = new SqliteStore({ path });
    const waking = { ...openDomain('d1'), wakeAt: T(15) };
    let release: () => void = () => undefined;
    const held = new Promise<void>((done) => {
      release = done;
    });
    const unit = store.unit(async () => {
      expect(await store.putSlice(hostWrite(0, T(10)))).toBe('ok');
      expect(await store.commitDecision?.(decision([hostWrite(1, T(20)), domainWrite(0, waking)]))).toBe(
        'ok',
      );
      expect(await store.lockSlice(D2, 0, 'a#1')).toBe('ok');
      await held;
    });
    await new Promise((done) => setTimeout(done, 20));
    expect(await other.getSlices([H1, D1])).toMatchObject([{ version: 0 }, { version: 0 }]);
    expect(await other.getDecision('dec-a')).toBeUndefined();
    expect(await other.dueWakes(T(60), 10)).toEqual([]);
    expect(await other.openDomains()).toEqual([]);
    release();
    await unit;
    const [host, domain, locked] = (await other.getSlices([H1, D1, D2])) as [
      StoredSlice,
      StoredSlice,
      StoredSlice,
    ];
    expect(host).toMatchObject({ version: 2, value: hostWrite(1, T(20)).value, applied: ['dec-2'] });
    expect(domain).toMatchObject({ version: 1, value: waking, applied: ['dec-1'] });
    expect(locked).toMatchObject({ version: 0, value: undefined, lock: 'a#1' });
    expect(await other.getDecision('dec-a')).toMatchObject({ status: 'committed', writes: [] });
    expect(await other.dueWakes(T(60), 10)).toEqual([
      { kind: 'domain', id: 'd1', at: T(15) },
      { kind: 'host', id: 'h1', at: T(20) },
    ]);
    expect(await other.openDomains()).toEqual(['d1']);
    await other.close();
    await cleanup();
  });

  it('writes each decision record once as the unit ends, a finished one without its writes and effects, as outside a unit', async () => {
    const { store, path, cleanup } = await tempSqliteStore({ clock: () => 7_000 });
    const twoEffects = {
      effects: [
        ...decision([]).effects,
        { type: 'timeline', entry: { id: 'tln-2', incidentId: 'inc-1', at: T(6), text: 'y' } },
      ],
    } as const;
    await store.unit(async () => {
      expect(await store.commitDecision?.(decision([hostWrite(0)], twoEffects))).toBe('ok');
      await store.markEffectDone('dec-a', 1, 0);
      expect(await store.getDecision('dec-a')).toMatchObject({ status: 'committed', done: [0] });
      expect(await store.setDecisionStatus('dec-a', 1, 'committed', 'done')).toBe('ok');
      expect(await store.setDecisionStatus('dec-a', 1, 'committed', 'done')).toBe('conflict');
      expect(await store.commitDecision?.(decision([hostWrite(1)], { ...twoEffects, id: 'dec-b' }))).toBe(
        'ok',
      );
      await store.markEffectDone('dec-b', 1, 1);
      await store.markEffectDone('dec-b', 2, 0);
      // A query by status and time sees what the unit holds.
      expect((await store.unfinishedDecisions(9_000, 10)).map((record) => record.id)).toEqual(['dec-b']);
    });
    await store.putDecision(decision([], { id: 'dec-c' }));
    await store.markEffectDone('dec-c', 1, 0);
    await store.setDecisionStatus('dec-c', 1, 'pending', 'aborted');
    // A finished record read from the file and marked in a unit keeps when it finished (its retention).
    await store.unit(async () => store.markEffectDone('dec-c', 1, 1));
    const finished = JSON.stringify({ writes: [], effects: [] });
    expect(fileRows(path, 'SELECT id, status, body, done, finished_at FROM decisions ORDER BY id')).toEqual([
      { id: 'dec-a', status: 'done', body: finished, done: '[0]', finished_at: 7_000 },
      {
        id: 'dec-b',
        status: 'committed',
        body: JSON.stringify({ writes: [], effects: twoEffects.effects }),
        done: '[1]',
        finished_at: null,
      },
      { id: 'dec-c', status: 'aborted', body: finished, done: '[0,1]', finished_at: 7_000 },
    ]);
    // The unit's marks are in its records' rows; a mark outside a unit has a row of its own.
    expect(fileRows(path, 'SELECT id, effect FROM effects_done')).toEqual([{ id: 'dec-c', effect: 0 }]);
    expect(await store.getDecision('dec-b')).toMatchObject({ status: 'committed', done: [1] });
    await cleanup();
  });

  it('makes a new file with 16 KiB pages, so that a host slice fits in its leaf', async () => {
    const { path, cleanup } = await tempSqliteStore();
    expect(fileRows(path, 'PRAGMA page_size')).toEqual([{ page_size: 16_384 }]);
    await cleanup();
  });

  it('leaves the file exactly as the same storm leaves it without units: slices, decisions, projections, plans', async () => {
    const core = CoreConfig.parse({ maxPlansInFlight: 2 });
    const play = async (inUnit: boolean) => {
      const { store, path, cleanup } = await tempSqliteStore({ clock: () => 0 });
      const unit = inUnit ? insideOneUnit(store) : undefined;
      const fleet = correlateFleet(unit?.store ?? store, core);
      await playStorm(fleet, { clients: 6, seed: SEED });
      await unit?.end();
      const file = { stored: dumpSqliteStore(path), slices: sliceRows(path), pages: fleet.notifyQueue.sent };
      await cleanup();
      return file;
    };
    const outside = await play(false);
    expect(outside.stored.plans).not.toEqual([]);
    expect(outside.pages).not.toEqual([]);
    expect(await play(true)).toEqual(outside);
  });
});
