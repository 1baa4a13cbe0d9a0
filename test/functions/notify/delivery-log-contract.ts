import { describe, expect, it } from 'vitest';
import { DELIVERY_RETENTION_MS, type DeliveryLog } from '../../../functions/notify/delivery-log.ts';

/** The DeliveryLog contract (functions/notify/delivery-log.ts), run against each adapter. */
export const describeDeliveryLogContract = (adapter: string, make: () => DeliveryLog): void => {
  describe(`DeliveryLog contract: ${adapter}`, () => {
    const key = { notificationId: 'ntf-1', destination: 'pagerduty' };
    const now = Date.parse('2025-03-01T12:00:00.000Z');
    const leaseMs = 60_000;

    it('lets the first consumer claim a delivery, and tells a second one it is in progress', async () => {
      const log = make();
      expect(await log.claim(key, { now, leaseMs })).toEqual({
        status: 'claimed',
        token: expect.any(String),
      });
      expect(await log.claim(key, { now: now + 1_000, leaseMs })).toEqual({ status: 'in-progress' });
    });

    it('never hands out a delivered delivery again', async () => {
      const log = make();
      await log.claim(key, { now, leaseMs });
      await log.markDelivered(key, { now: now + 500 });
      expect(await log.claim(key, { now: now + 1_000, leaseMs })).toEqual({ status: 'delivered' });
      expect(await log.claim(key, { now: now + 10 * leaseMs, leaseMs })).toEqual({ status: 'delivered' });
    });

    it('keeps deliveries to different destinations and of different notifications apart', async () => {
      const log = make();
      await log.claim(key, { now, leaseMs });
      await log.markDelivered(key, { now });
      expect((await log.claim({ ...key, destination: 'slack' }, { now, leaseMs })).status).toBe('claimed');
      expect((await log.claim({ ...key, notificationId: 'ntf-2' }, { now, leaseMs })).status).toBe('claimed');
    });

    it('lets a released claim be claimed again at once', async () => {
      const log = make();
      const claim = await log.claim(key, { now, leaseMs });
      if (claim.status !== 'claimed') expect.fail('expected a claim');
      await log.release(key, claim.token);
      expect((await log.claim(key, { now: now + 1, leaseMs })).status).toBe('claimed');
    });

    it('ignores a release by someone whose claim has been taken over', async () => {
      const log = make();
      const first = await log.claim(key, { now, leaseMs });
      const second = await log.claim(key, { now: now + leaseMs + 1, leaseMs });
      if (first.status !== 'claimed' || second.status !== 'claimed') expect.fail('expected two claims');
      await log.release(key, first.token);
      expect(await log.claim(key, { now: now + leaseMs + 2, leaseMs })).toEqual({ status: 'in-progress' });
    });

    it('hands a delivery to another consumer once its claim expired (its holder crashed)', async () => {
      const log = make();
      await log.claim(key, { now, leaseMs });
      expect((await log.claim(key, { now: now + leaseMs, leaseMs })).status).toBe('claimed');
    });

    it('forgets deliveries older than its retention', async () => {
      const log = make();
      await log.claim(key, { now, leaseMs });
      await log.markDelivered(key, { now });
      const later = now + DELIVERY_RETENTION_MS + 1;
      expect((await log.claim(key, { now: later, leaseMs })).status).toBe('claimed');
    });
  });
};
