import { describe, expect, it } from 'vitest';
import { parseSyncCompleted } from '../../probes/md-sync-completed.ts';

describe('parseSyncCompleted', () => {
  it('reads the three things sync_completed_show prints', () => {
    expect(parseSyncCompleted('none\n')).toEqual({ state: 'none' });
    expect(parseSyncCompleted('delayed\n')).toEqual({ state: 'delayed' });
    expect(parseSyncCompleted('29360128 / 83816448\n')).toEqual({
      state: 'running',
      syncedSectors: 29_360_128,
      totalSectors: 83_816_448,
    });
  });

  it('counts the sectors of a 16 TiB array exactly', () => {
    expect(parseSyncCompleted('17179869184 / 34359738368')).toMatchObject({
      syncedSectors: 17_179_869_184,
      totalSectors: 34_359_738_368,
    });
  });

  it.each(['', 'pending\n', '12/34\n', '-1 / 5\n', '1 / 2 / 3\n', '99999999999999999 / 1\n'])(
    'reads %j, which the kernel never prints, as unknown',
    (text) => {
      expect(parseSyncCompleted(text)).toBeNull();
    },
  );
});
