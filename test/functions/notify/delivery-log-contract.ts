import { describe, expect, it } from 'vitest';
import {
  DELIVERY_RETENTION_MS,
  type DeliveryClaim,
  type DeliveryKey,
  type DeliveryLog,
} from '../../../functions/notify/delivery-log.ts';

/**
 * The DeliveryLog contract (functions/notify/delivery-log.ts), run against each adapter: the one
 * place its behaviour is written down. `make` answers a fresh, empty log each time.
 */
export const describeDeliveryLogContract = (
  adapter: string,
  make: () => DeliveryLog | Promise<DeliveryLog>,
): void => {
  describe(`DeliveryLog contract: ${adapter}`, () => {
    const incidentId = 'inc-vscsi-p10-vios2';
    const key: DeliveryKey = { notificationId: 'ntf-1', incidentId, destination: 'pagerduty' };
    const trigger: DeliveryKey = {
      notificationId: 'ntf-trigger',
      incidentId,
      destination: 'pagerduty',
      sequence: 1,
    };
    const escalation: DeliveryKey = { ...trigger, notificationId: 'ntf-escalated', sequence: 2 };
    const resolve: DeliveryKey = { ...trigger, notificationId: 'ntf-resolve', sequence: 3 };
    const now = Date.parse('2025-03-01T12:00:00.000Z');
    const leaseMs = 60_000;
    const held = { status: 'in-progress', reason: 'held' } as const;
    const deferred = { status: 'in-progress', reason: 'deferred' } as const;

    const claimed = async (log: DeliveryLog, delivery: DeliveryKey, at = now): Promise<string> => {
      const claim: DeliveryClaim = await log.claim(delivery, { now: at, leaseMs });
      if (claim.status !== 'claimed')
        expect.fail(`expected a claim of ${delivery.notificationId}, got ${claim.status}`);
      return claim.token;
    };
    const deliver = async (log: DeliveryLog, delivery: DeliveryKey, at = now): Promise<void> => {
      await log.markDelivered(delivery, { now: at, token: await claimed(log, delivery, at) });
    };

    it('lets the first consumer claim a delivery, and tells a second one it is in progress', async () => {
      const log = await make();
      expect(await log.claim(key, { now, leaseMs })).toEqual({
        status: 'claimed',
        token: expect.any(String),
      });
      expect(await log.claim(key, { now: now + 1_000, leaseMs })).toEqual(held);
    });

    it('never hands out a delivered delivery again', async () => {
      const log = await make();
      await deliver(log, key);
      expect(await log.claim(key, { now: now + 1_000, leaseMs })).toEqual({ status: 'delivered' });
      expect(await log.claim(key, { now: now + 10 * leaseMs, leaseMs })).toEqual({ status: 'delivered' });
    });

    it('keeps deliveries to different destinations and of different incidents apart', async () => {
      const log = await make();
      await deliver(log, resolve);
      expect((await log.claim({ ...trigger, destination: 'slack' }, { now, leaseMs })).status).toBe(
        'claimed',
      );
      expect((await log.claim({ ...trigger, incidentId: 'inc-other' }, { now, leaseMs })).status).toBe(
        'claimed',
      );
    });

    it('lets a released claim be claimed again at once', async () => {
      const log = await make();
      const token = await claimed(log, key);
      await log.release(key, token);
      expect((await log.claim(key, { now: now + 1, leaseMs })).status).toBe('claimed');
    });

    it('ignores a release by someone whose claim has been taken over', async () => {
      const log = await make();
      const first = await claimed(log, key);
      await claimed(log, key, now + leaseMs + 1);
      await log.release(key, first);
      expect(await log.claim(key, { now: now + leaseMs + 2, leaseMs })).toEqual(held);
    });

    it('hands a delivery to another consumer once its claim expired (its holder crashed)', async () => {
      const log = await make();
      await claimed(log, key);
      expect((await log.claim(key, { now: now + leaseMs, leaseMs })).status).toBe('claimed');
    });

    it('forgets deliveries older than its retention', async () => {
      const log = await make();
      await deliver(log, key);
      const later = now + DELIVERY_RETENTION_MS + 1;
      expect((await log.claim(key, { now: later, leaseMs })).status).toBe('claimed');
    });

    describe('one incident to one destination, in order', () => {
      it('drops an action older than one delivered there (superseded), saying which sequence went out', async () => {
        const log = await make();
        await deliver(log, resolve);
        expect(await log.claim(trigger, { now: now + 1, leaseMs })).toEqual({
          status: 'superseded',
          deliveredSequence: 3,
        });
        expect(await log.claim(escalation, { now: now + 2, leaseMs })).toEqual({
          status: 'superseded',
          deliveredSequence: 3,
        });
      });

      it('still lets an older action reach a destination that has not had the newer one', async () => {
        const log = await make();
        await deliver(log, resolve);
        expect((await log.claim({ ...trigger, destination: 'slack' }, { now, leaseMs })).status).toBe(
          'claimed',
        );
      });

      it('delivers the actions that come in order, each once', async () => {
        const log = await make();
        await deliver(log, trigger);
        await deliver(log, escalation, now + 1);
        await deliver(log, resolve, now + 2);
        for (const delivery of [trigger, escalation, resolve]) {
          expect(await log.claim(delivery, { now: now + 3, leaseMs })).toEqual({ status: 'delivered' });
        }
      });

      it('answers a redelivered action that went out as delivered, not superseded, once newer ones followed', async () => {
        const log = await make();
        await deliver(log, trigger);
        await deliver(log, resolve, now + 1);
        expect(await log.claim(trigger, { now: now + 2, leaseMs })).toEqual({ status: 'delivered' });
      });

      it("lets one of an incident's deliveries to a destination be in flight at a time", async () => {
        const log = await make();
        const token = await claimed(log, trigger);
        expect(await log.claim(resolve, { now: now + 1, leaseMs })).toEqual(held);
        await log.markDelivered(trigger, { now: now + 2, token });
        expect((await log.claim(resolve, { now: now + 3, leaseMs })).status).toBe('claimed');
      });

      it('frees the lane when the holder gives up, and once its lease ran out', async () => {
        const log = await make();
        await log.release(trigger, await claimed(log, trigger));
        expect((await log.claim(resolve, { now: now + 1, leaseMs })).status).toBe('claimed');
        expect((await log.claim(resolve, { now: now + 1 + leaseMs, leaseMs })).status).toBe('claimed');
      });

      it('drops an older action once a newer one’s lease ran out unrecorded: it may have gone out', async () => {
        const log = await make();
        // The resolve was sent, and its holder died (or failed to record it) before markDelivered.
        await claimed(log, resolve);
        expect(await log.claim(trigger, { now: now + leaseMs, leaseMs })).toEqual({
          status: 'superseded',
          deliveredSequence: 3,
          unrecorded: true,
        });
        expect(await log.claim({ ...trigger, sequence: undefined }, { now: now + leaseMs, leaseMs })).toEqual(
          {
            status: 'superseded',
            deliveredSequence: 3,
            unrecorded: true,
          },
        );
        // The resolve's own record may still take its lane over.
        expect((await log.claim(resolve, { now: now + leaseMs, leaseMs })).status).toBe('claimed');
      });

      it('keeps dropping older actions after the lapsed holder’s lane was taken over and given back', async () => {
        const log = await make();
        await claimed(log, resolve);
        // Its redelivery takes over, gets a 429 and gives the lane back: the first try may still have gone out.
        await log.release(resolve, await claimed(log, resolve, now + leaseMs));
        expect(await log.claim(trigger, { now: now + leaseMs + 1, leaseMs })).toEqual({
          status: 'superseded',
          deliveredSequence: 3,
          unrecorded: true,
        });
        await deliver(log, resolve, now + leaseMs + 2);
        expect(await log.claim(escalation, { now: now + leaseMs + 3, leaseMs })).toEqual({
          status: 'superseded',
          deliveredSequence: 3,
        });
      });

      it('lets a newer action take over from an older holder whose lease ran out', async () => {
        const log = await make();
        await claimed(log, trigger);
        expect((await log.claim(resolve, { now: now + leaseMs, leaseMs })).status).toBe('claimed');
      });

      it('drops the late trigger once the resolve that overtook it was delivered', async () => {
        const log = await make();
        // The trigger fails (a 429) and gives its claim back; its resolve goes out first.
        await log.release(trigger, await claimed(log, trigger));
        await deliver(log, resolve, now + 1);
        expect((await log.claim(trigger, { now: now + 2, leaseMs })).status).toBe('superseded');
      });

      it('keeps the claim of a consumer that took over when the previous holder reports its delivery late', async () => {
        const log = await make();
        const stale = await claimed(log, trigger);
        await claimed(log, resolve, now + leaseMs);
        await log.markDelivered(trigger, { now: now + leaseMs + 1, token: stale });
        expect(await log.claim(resolve, { now: now + leaseMs + 2, leaseMs })).toEqual(held);
        expect(await log.claim(trigger, { now: now + leaseMs + 2, leaseMs })).toEqual({
          status: 'delivered',
        });
      });

      it('tells the holder of an older action that a newer one waits, and lets the newer one go first', async () => {
        const log = await make();
        const token = await claimed(log, trigger);
        expect(await log.isOvertaken(trigger, { now: now + 1, token })).toBe(false);
        expect(await log.claim(resolve, { now: now + 2, leaseMs, precedenceMs: 3 * leaseMs })).toEqual(held);
        expect(await log.isOvertaken(trigger, { now: now + 3, token })).toBe(true);
        expect(await log.isOvertaken(trigger, { now: now + 3, token: 'someone-else' })).toBe(false);
        await log.release(trigger, token);
        // The trigger's record came back first: it waits for the resolve's.
        expect(await log.claim(trigger, { now: now + 4, leaseMs })).toEqual(deferred);
        expect(await log.claim(escalation, { now: now + 4, leaseMs })).toEqual(deferred);
        expect(await log.claim({ ...trigger, sequence: undefined }, { now: now + 4, leaseMs })).toEqual(
          deferred,
        );
        await deliver(log, resolve, now + 2 * leaseMs);
        expect((await log.claim(trigger, { now: now + 2 * leaseMs + 1, leaseMs })).status).toBe('superseded');
      });

      it('gives a waiting newer action precedence only for as long as it was told, so an older one is not held forever', async () => {
        const log = await make();
        await log.release(trigger, await claimed(log, trigger));
        const holder = await claimed(log, escalation, now + 1);
        expect((await log.claim(resolve, { now: now + 2, leaseMs, precedenceMs: leaseMs })).status).toBe(
          'in-progress',
        );
        await log.release(escalation, holder);
        expect(await log.claim(escalation, { now: now + 3, leaseMs })).toEqual(deferred);
        expect((await log.claim(escalation, { now: now + 3 + leaseMs, leaseMs })).status).toBe('claimed');
      });

      it('never asks the holder of a newer action to hand over to an older one', async () => {
        const log = await make();
        const token = await claimed(log, resolve);
        expect(await log.claim(trigger, { now: now + 1, leaseMs })).toEqual(held);
        expect(await log.isOvertaken(resolve, { now: now + 2, token })).toBe(false);
      });

      it('delivers a different action with the same sequence as one delivered (only an older one is dropped)', async () => {
        const log = await make();
        await deliver(log, escalation);
        expect(
          (
            await log.claim(
              { ...escalation, notificationId: 'ntf-escalated-again' },
              { now: now + 1, leaseMs },
            )
          ).status,
        ).toBe('claimed');
      });

      it('delivers an action without a sequence (a record from before ordering) once and in turn, as older than every sequenced one', async () => {
        const log = await make();
        const unordered: DeliveryKey = {
          notificationId: 'ntf-legacy-trigger',
          incidentId,
          destination: 'pagerduty',
        };
        const token = await claimed(log, unordered);
        expect(
          await log.claim({ ...unordered, notificationId: 'ntf-legacy-other' }, { now: now + 1, leaseMs }),
        ).toEqual(held);
        await log.markDelivered(unordered, { now: now + 2, token });
        expect(await log.claim(unordered, { now: now + 3, leaseMs })).toEqual({ status: 'delivered' });
        // Another unsequenced one is not older than it: both go out.
        await deliver(log, { ...unordered, notificationId: 'ntf-legacy-other' }, now + 4);
        await deliver(log, trigger, now + 5);
      });

      it('drops an action without a sequence once a sequenced action of its incident went out: every sequenced one was made after it', async () => {
        const log = await make();
        const unordered: DeliveryKey = {
          notificationId: 'ntf-legacy-trigger',
          incidentId,
          destination: 'pagerduty',
        };
        await deliver(log, resolve);
        expect(await log.claim(unordered, { now: now + 1, leaseMs })).toEqual({
          status: 'superseded',
          deliveredSequence: 3,
        });
      });
    });
  });
};
