// When a path left the healthy states (functions/core/path-loss.ts), whatever order its reports
// arrive in: what tells a leg the outage set offline from one offline before it (DESIGN §4 scsi.online).
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { FaultlineEvent, PathState } from '../../../events/index.ts';
import { applyPathEvent, freshHost } from '../../../functions/core/host.ts';
import { toMs } from '../../../functions/core/index.ts';
import type { PathRecord } from '../../../functions/core/model.ts';
import { at } from '../../helpers/core-fleet.ts';
import { MultipathHost } from '../../helpers/core-runbooks.ts';

const HEALTHY: PathState[] = ['active', 'ghost'];
const LOST: PathState[] = ['failed', 'offline', 'pending'];

/** One path's reports, `seq` 1, 2, … a minute apart, in the states given. */
const reportsOf = (states: readonly PathState[]): FaultlineEvent[] => {
  const host = new MultipathHost('dbpath01');
  return states.map((state, index) =>
    host.path(HEALTHY.includes(state) ? 'path.restored' : 'path.lost', at(60 * (index + 1)), state),
  );
};

/** The path's record once the reports are applied in the order given. */
const recordAfter = (reports: readonly FaultlineEvent[]): PathRecord | undefined => {
  const host = freshHost('dbpath01');
  for (const report of reports) {
    if (report.type === 'path.lost' || report.type === 'path.restored')
      applyPathEvent(host, report, report.time);
  }
  return Object.values(host.paths).find((record) => record.map === 'mpatha' && record.path === 'sdq');
};

/** A sequence of states and an order to deliver it in. */
const delivered = (states: fc.Arbitrary<PathState[]>) =>
  states.chain((sequence) =>
    fc
      .shuffledSubarray(
        sequence.map((_, index) => index),
        { minLength: sequence.length, maxLength: sequence.length },
      )
      .map((order) => ({ sequence, order })),
  );

const healthyThenLost = fc
  .tuple(
    fc.array(fc.constantFrom(...HEALTHY), { minLength: 1, maxLength: 4 }),
    fc.array(fc.constantFrom(...LOST), { minLength: 1, maxLength: 4 }),
  )
  .map(([healthy, lost]) => [...healthy, ...lost]);
const anyStates = fc.array(fc.constantFrom(...HEALTHY, ...LOST), { minLength: 1, maxLength: 8 });

describe('the loss of a path', () => {
  it('is the first report out of the healthy states after the last healthy one, from its state', () => {
    const record = recordAfter(reportsOf(['offline', 'active', 'ghost', 'failed', 'offline']));
    expect(record).toMatchObject({
      state: 'offline',
      lost: { seq: 4, at: at(240), from: 'ghost', healthySeq: 3 },
    });
  });

  it('has no healthy state to come from for a path never reported healthy', () => {
    expect(recordAfter(reportsOf(['failed', 'offline']))?.lost).toEqual({ seq: 1, at: at(60) });
  });

  it('is gone once the path is healthy again', () => {
    expect(recordAfter(reportsOf(['active', 'offline', 'active']))?.lost).toBeUndefined();
  });

  test.prop([delivered(healthyThenLost)])(
    'is the same in any delivery order when healthy reports come before the lost ones',
    ({ sequence, order }) => {
      const reports = reportsOf(sequence);
      const inOrder = recordAfter(reports);
      const shuffled = recordAfter(order.map((index) => reports[index] as FaultlineEvent));
      expect(shuffled?.state).toBe(inOrder?.state);
      expect(shuffled?.lost).toEqual(inOrder?.lost);
    },
  );

  test.prop([delivered(anyStates)])(
    'comes from the same healthy report in any delivery order, and is never placed later than it was',
    ({ sequence, order }) => {
      const reports = reportsOf(sequence);
      const inOrder = recordAfter(reports);
      const shuffled = recordAfter(order.map((index) => reports[index] as FaultlineEvent));
      expect(shuffled?.state).toBe(inOrder?.state);
      expect(shuffled?.lost?.from).toBe(inOrder?.lost?.from);
      expect(shuffled?.lost?.healthySeq).toBe(inOrder?.lost?.healthySeq);
      if (inOrder?.lost !== undefined)
        expect(toMs(shuffled?.lost?.at ?? '')).toBeLessThanOrEqual(toMs(inOrder.lost.at));
    },
  );
});
