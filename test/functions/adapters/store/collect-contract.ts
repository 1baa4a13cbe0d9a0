import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Plan } from '../../../../events/index.ts';
import type { CollectRecord, Store } from '../../../../functions/adapters/store/port.ts';
import type { StoreFixture } from './contract.ts';

/**
 * The contract of what the sh agent's collect added to the store (functions/adapters/store/port.ts
 * `CollectStore`, and the lines signature kept beside a plan): every adapter runs it, against its
 * real peer (a SQLite file, dynalite on loopback).
 */

const T = (seconds: number): string => new Date(Date.UTC(2026, 10, 22, 3, 0, seconds)).toISOString();

const record = (seq: number, body: unknown = { seq }, bootId = 'boot-1'): CollectRecord => ({
  hostId: 'ldg1',
  bootId,
  seq,
  storedAt: T(seq),
  body,
});

const plan = (id: string, issuedAt: string): Plan => ({
  id,
  incidentId: 'inc-1',
  hostId: 'ldg1',
  attempt: 1,
  wave: 0,
  issuedAt,
  ttlSeconds: 900,
  mode: 'execute',
  steps: [{ action: 'disk.probe', disk: 'c0d1', failureDomain: 'vdisk:cdom1/alternate' }],
  signature: 'MEUCIQDabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH==',
});

const LINES_SIGNATURE = 'MEYCIQCzyxwvutsrqponmlkjihgfedcba9876543210ZYXWVUTS==';

export const collectStoreContract = (name: string, make: () => Promise<StoreFixture>): void => {
  describe(`what the collect route keeps, on ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('knows no record of a host before its first collect, and writes the first one once', async () => {
      expect(await store.getCollect('ldg1')).toBeUndefined();
      expect(await store.putCollect(record(1), undefined)).toBe('ok');
      expect(await store.putCollect(record(1, { other: true }), undefined)).toBe('conflict');
      expect(await store.getCollect('ldg1')).toEqual(record(1));
      expect(await store.getCollect('ldg2')).toBeUndefined();
    });

    it('replaces a record whole only when the stored one is the collect the writer read', async () => {
      await store.putCollect(record(1), undefined);
      expect(await store.putCollect(record(3), { bootId: 'boot-1', seq: 2 })).toBe('conflict');
      expect(await store.putCollect(record(3), { bootId: 'boot-0', seq: 1 })).toBe('conflict');
      expect(await store.getCollect('ldg1')).toEqual(record(1));
      expect(
        await store.putCollect(record(2, { replaced: 'whole' }, 'boot-2'), { bootId: 'boot-1', seq: 1 }),
      ).toBe('ok');
      expect(await store.getCollect('ldg1')).toEqual(record(2, { replaced: 'whole' }, 'boot-2'));
      // Two writers that read the same record: only the first one wins.
      const [first, second] = await Promise.all([
        store.putCollect(record(3), { bootId: 'boot-2', seq: 2 }),
        store.putCollect(record(4), { bootId: 'boot-2', seq: 2 }),
      ]);
      expect([first, second].sort()).toEqual(['conflict', 'ok']);
    });

    it('keeps a large body exactly (a host with many mirrors, before and after a collect)', async () => {
      const members = Array.from({ length: 64 }, (_, n) => ({ device: `c0d${n}s0`, state: 'in-sync' }));
      const body = {
        before: { arrays: Array.from({ length: 120 }, (_, n) => ({ array: `d${n}`, members })) },
        after: { arrays: Array.from({ length: 120 }, (_, n) => ({ array: `d${n}`, members })) },
        text: 'unicode … ✓',
      };
      expect(JSON.stringify(body).length).toBeGreaterThan(64 * 1024);
      expect(await store.putCollect(record(1, body), undefined)).toBe('ok');
      expect((await store.getCollect('ldg1'))?.body).toEqual(body);
    });

    it("keeps a plan's lines signature beside it, never inside it, and the first write of a plan wins", async () => {
      await store.putPlan(plan('pln-a', T(0)), LINES_SIGNATURE);
      await store.putPlan(plan('pln-b', T(1)));
      await store.putPlan(plan('pln-a', T(0)), 'MEUCIQAnotherSignatureThatMustNotReplaceTheFirst00==');
      expect(await store.hostPlans('ldg1', T(10))).toEqual([
        { plan: plan('pln-a', T(0)), linesSignature: LINES_SIGNATURE },
        { plan: plan('pln-b', T(1)) },
      ]);
      expect(await store.plansForHost('ldg1', T(10))).toEqual([plan('pln-a', T(0)), plan('pln-b', T(1))]);
      expect(await store.getPlan('pln-a')).toEqual({
        plan: plan('pln-a', T(0)),
        revoked: false,
        linesSignature: LINES_SIGNATURE,
      });
      await store.revokePlan('pln-a', 'ldg1', T(5));
      expect((await store.hostPlans('ldg1', T(10))).map((stored) => stored.plan.id)).toEqual(['pln-b']);
    });
  });
};
