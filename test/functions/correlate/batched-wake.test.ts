import { describe, expect, it } from 'vitest';
import type { FaultlineEvent } from '../../../events/index.ts';
import { CoreConfig } from '../../../functions/core/config.ts';
import { createHandler as createCorrelate } from '../../../functions/correlate/handler.ts';
import { at, HostingPartition, progressOf, random, VscsiClient, vscsi } from '../../helpers/core-fleet.ts';
import { correlateFleet, correlateSettings, stampedRecord } from '../../helpers/store-correlate.ts';
import { tempSqliteStore } from '../../helpers/store-sqlite.ts';

/**
 * A wake asked for by one decision of a correlate batch survives the batch's later decisions on the
 * same domain: timers fire only after the batch (`tickDue`). Found by the local runtime's
 * fault-injection run: the canary reported healthy, then its last step's `succeeded`, in one batch,
 * and wave 1 was never dispatched (the `succeeded` rewrote the domain and dropped the wake).
 */

const CORE = CoreConfig.parse({ stabilitySeconds: 1, maxPlansInFlight: 6 });

const canaryThenWave = async (
  order: 'healthy first' | 'succeeded first',
  delivery: 'one batch' | 'one by one',
) => {
  const { store, cleanup } = await tempSqliteStore();
  try {
    const fleet = correlateFleet(store, CORE);
    const rng = random(7);
    const clients = Array.from({ length: 12 }, (_, index) => new VscsiClient(`lnx${index + 10}`, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const feed = async (...events: FaultlineEvent[]) => {
      for (const event of events) await fleet.ingest(event);
    };
    await feed(vios2.heartbeat(at(1)), ...clients.map((client) => client.heartbeat(at(1))));
    await feed(
      vios2.goingDown(at(100)),
      ...clients.map((client, index) => client.rootDegraded(at(101 + index / 10))),
    );
    await feed(vios2.iplCompleted(at(200), at(199)));
    await fleet.fireDue(at(202));
    const [canary] = await fleet.plans();
    if (canary === undefined) throw new Error('no canary plan');
    const host = clients.find((client) => client.hostId === canary.hostId) as VscsiClient;
    const progress = progressOf(host, canary, 210);
    const lastStep = progress.pop() as FaultlineEvent;
    await feed(...progress);
    const healthy = host.mirrors.map((mirror) => host.healthy(mirror, at(230), canary.id));
    const tail = (order === 'healthy first' ? [...healthy, lastStep] : [lastStep, ...healthy]).map(
      (event) => ({ ...event, receivedat: at(231) }) as FaultlineEvent,
    );
    if (delivery === 'one by one') await feed(...tail);
    else {
      // As the local runtime hands correlate a batch: one store unit, the timers fired after it.
      const correlate = createCorrelate({
        settings: correlateSettings(CORE),
        store,
        signer: fleet.signer,
        notifyQueue: fleet.notifyQueue,
        deadLetterQueue: { send: async () => ({ messageId: 'dlq' }) },
        clock: () => Date.parse(at(231)),
        log: () => undefined,
      });
      const records = tail.map((event, index) => stampedRecord(event, `m${index}`, Date.parse(at(231))));
      await store.unit(() => correlate({ Records: records }));
    }
    await fleet.fireDue(at(240));
    return (await fleet.plans()).length;
  } finally {
    await cleanup();
  }
};

describe('a healthy canary frees its slot for wave 1 however its last reports are batched', () => {
  it.each([
    ['healthy first', 'one batch'],
    ['healthy first', 'one by one'],
    ['succeeded first', 'one batch'],
    ['succeeded first', 'one by one'],
  ] as const)('%s, %s: the canary and a wave of 6', async (order, delivery) => {
    expect(await canaryThenWave(order, delivery)).toBe(7);
  });
});
