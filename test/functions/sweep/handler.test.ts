import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreConfig } from '../../../functions/core/index.ts';
import { createHandler as createCorrelate } from '../../../functions/correlate/handler.ts';
import { sweepFromEnv as fromEnv } from '../../../functions/lambda/sweep.ts';
import { createHandler } from '../../../functions/sweep/handler.ts';
import { at, random, T0, VscsiClient } from '../../helpers/core-fleet.ts';
import { correlateSettings, stampedRecord } from '../../helpers/store-correlate.ts';
import { FaultInjector, faultyQueue, faultySigner, faultyStore } from '../../helpers/store-faults.ts';
import { capturingQueue, testSigner } from '../../helpers/store-fleet.ts';
import { dumpSqliteStore, tempSqliteStore } from '../../helpers/store-sqlite.ts';

const CORE = CoreConfig.parse({ groupingWindowSeconds: 1 });

describe.each([
  { protocol: 'the lock protocol (DynamoDB)', lockProtocol: true, record: 'putDecision' },
  { protocol: "SQLite's atomic commit", lockProtocol: false, record: 'commitDecision' },
])('sweep, with $protocol', ({ lockProtocol, record: recordPoint }) => {
  let fixture: Awaited<ReturnType<typeof tempSqliteStore>>;
  let now: number;
  let queue: ReturnType<typeof capturingQueue>;
  const signer = testSigner();
  const faults = new FaultInjector();
  const rng = random(11);
  const [first, second] = [new VscsiClient('client1', rng), new VscsiClient('client2', rng)] as const;

  beforeEach(async () => {
    fixture = await tempSqliteStore();
    queue = capturingQueue();
    now = T0 + 101_000;
    faults.revive();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  const ports = () => ({
    store: faultyStore(fixture.store, faults, { lockProtocol }),
    signer: faultySigner(signer, faults),
    notifyQueue: faultyQueue(queue, faults),
  });
  const correlate = () =>
    createCorrelate({
      settings: correlateSettings(CORE),
      ...ports(),
      deadLetterQueue: capturingQueue(),
      clock: () => now,
      log: () => undefined,
    });
  const sweep = () =>
    createHandler({
      settings: { core: CORE, graceSeconds: 60, finishLimit: 100, tickLimit: 100 },
      ...ports(),
      clock: () => now,
      log: () => undefined,
    });
  /** Two clients lose their vios2 half: the second symptom opens the outage and pages. */
  const outage = async (crashBefore: string) => {
    await correlate()({
      Records: [
        stampedRecord(first.heartbeat(at(1)), 'hb1', T0),
        stampedRecord(second.heartbeat(at(1)), 'hb2', T0),
      ],
    });
    await correlate()({ Records: [stampedRecord(first.rootDegraded(at(100)), 'degraded1', T0)] });
    const record = stampedRecord(second.rootDegraded(at(100.5)), 'degraded2', T0);
    faults.armBefore(crashBefore);
    const answer = await correlate()({ Records: [record] });
    expect(faults.crashedAt).toBe(crashBefore);
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'degraded2' }]);
    faults.revive();
    return record;
  };

  it('leaves a young decision to its owner, then finishes one a crash left committed and sends its page once', async () => {
    await outage('notify send');
    const left = dumpSqliteStore(fixture.path).unfinished as unknown[];
    expect(left.length).toBeGreaterThan(0);
    expect(await sweep()()).toEqual({ finished: 0, aborted: 0, timersFired: 0, purged: 0 });
    expect(queue.sent).toEqual([]);
    now += 61_000;
    const report = await sweep()();
    expect(report.aborted).toBe(0);
    expect(report.finished).toBeGreaterThan(0);
    expect(queue.sent).toEqual([expect.objectContaining({ action: 'trigger' })]);
    expect(dumpSqliteStore(fixture.path)).toMatchObject({ unfinished: [], locks: [] });
    const incidents = (await fixture.store.listIncidents({})).items;
    expect(incidents).toEqual([expect.objectContaining({ kind: 'outage', affectedHosts: 2 })]);
    await sweep()();
    expect(queue.sent).toHaveLength(1);
  });

  // Only the lock protocol leaves a decision half-locked: the atomic commit writes all or nothing.
  if (lockProtocol)
    it('aborts a decision a crash left half-locked, and its redelivered input is then decided afresh', async () => {
      const record = await outage('lockSlice');
      expect(dumpSqliteStore(fixture.path).unfinished).toHaveLength(1);
      now += 61_000;
      expect(await sweep()()).toMatchObject({ finished: 1, aborted: 0 });
      expect(dumpSqliteStore(fixture.path)).toMatchObject({ unfinished: [], locks: [] });
      expect(queue.sent).toHaveLength(1);
      const redelivered = { ...record, attributes: { ...record.attributes, ApproximateReceiveCount: '2' } };
      expect((await correlate()({ Records: [redelivered] })).batchItemFailures).toEqual([]);
      expect(queue.sent).toHaveLength(1);
    });

  it('has nothing to finish when the crash came before the decision was recorded: the redelivery decides it', async () => {
    await correlate()({
      Records: [
        stampedRecord(first.heartbeat(at(1)), 'hb1', T0),
        stampedRecord(second.heartbeat(at(1)), 'hb2', T0),
      ],
    });
    await correlate()({ Records: [stampedRecord(first.rootDegraded(at(100)), 'degraded1', T0)] });
    const record = stampedRecord(second.rootDegraded(at(100.5)), 'degraded2', T0);
    faults.armBefore(recordPoint);
    await correlate()({ Records: [record] });
    faults.revive();
    now += 61_000;
    await sweep()();
    expect((await fixture.store.listIncidents({})).items).toEqual([]);
    const redelivered = { ...record, attributes: { ...record.attributes, ApproximateReceiveCount: '2' } };
    await correlate()({ Records: [redelivered] });
    expect((await fixture.store.listIncidents({})).items).toHaveLength(1);
    expect(dumpSqliteStore(fixture.path)).toMatchObject({ unfinished: [], locks: [] });
  });

  it('fires the timers that are due: a lone symptom is paged as a local fault after its hold-down', async () => {
    await correlate()({ Records: [stampedRecord(first.heartbeat(at(1)), 'hb1', T0)] });
    await correlate()({ Records: [stampedRecord(first.rootDegraded(at(100)), 'degraded1', T0)] });
    now = T0 + 219_000;
    expect((await sweep()()).timersFired).toBe(0);
    now = T0 + 221_000;
    expect((await sweep()()).timersFired).toBe(1);
    expect((await fixture.store.listIncidents({})).items).toEqual([
      expect.objectContaining({ kind: 'local' }),
    ]);
    expect(queue.sent).toEqual([expect.objectContaining({ action: 'trigger' })]);
  });

  it('fails every run, naming each problem, while its environment is invalid', async () => {
    const broken = createHandler(
      fromEnv({
        FAULTLINE_STORE: 'sqlite:/tmp/x.db',
        FAULTLINE_PLAN_SIGNER: 'local:/tmp',
        FAULTLINE_NOTIFY_QUEUE_URL: 'http://127.0.0.1:1/notify',
        FAULTLINE_SWEEP_GRACE_SECONDS: '-5',
      }),
    );
    await expect(broken()).rejects.toMatchObject({
      code: 'config-invalid',
      message: expect.stringContaining('FAULTLINE_SWEEP_GRACE_SECONDS'),
    });
  });
});
