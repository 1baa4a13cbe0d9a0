import { describe, expect, it } from 'vitest';
import { bootIdFromProcStat, parseBootId } from '../../probes/boot-id.ts';

describe('boot id', () => {
  it('reads boot_id and falls back to the boot time in /proc/stat', () => {
    expect(parseBootId('B7C1E5D2-4F0A-4C55-9D39-0E7D2A51C3F1\n')).toBe(
      'b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1',
    );
    expect(parseBootId('')).toBeNull();
    expect(bootIdFromProcStat('cpu 1 2 3\nbtime 1795215600\nprocesses 3\n')).toBe('btime-1795215600');
    expect(bootIdFromProcStat('cpu 1 2 3\n')).toBeNull();
  });
});
