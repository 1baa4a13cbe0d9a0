import { afterEach, describe, expect, it } from 'vitest';
import { parseWhoBoot } from '../../probes/who-boot.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

/** `who -b` is run with `TZ=UTC0`: what it prints is UTC. */
const utc = (year: number, month: number, day: number, hour: number, minute: number) =>
  new Date(Date.UTC(year, month - 1, day, hour, minute));

const savedTz = process.env.TZ;
afterEach(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

describe('parseWhoBoot', () => {
  it('reads the AIX boot record, without a year, in the year of now', () => {
    const boot = parseWhoBoot(fixtureText('who/who-b-aix.txt'), utc(2026, 12, 3, 2, 0));
    expect(boot).toEqual({ bootedAt: utc(2026, 11, 22, 3, 10), key: 'who-202611220310' });
  });

  it('puts a boot of late December read in January in the year before', () => {
    const boot = parseWhoBoot('   .        system boot  Dec 31 23:58\n', utc(2027, 1, 1, 0, 5));
    expect(boot?.bootedAt).toEqual(utc(2026, 12, 31, 23, 58));
  });

  it('reads the GNU layout with its year', () => {
    const boot = parseWhoBoot(fixtureText('who/who-b-linux.txt'), utc(2027, 6, 1, 0, 0));
    expect(boot).toEqual({ bootedAt: utc(2026, 11, 22, 3, 10), key: 'who-202611220310' });
  });

  it.each(['America/Chicago', 'Pacific/Auckland', 'CST6CDT,M3.2.0,M11.1.0'])(
    'reads the record as UTC whatever zone the agent runs in (TZ=%s)',
    (zone) => {
      process.env.TZ = zone;
      // 31 December 23:58 UTC is already 1 January in Auckland: the year is placed in UTC too.
      expect(parseWhoBoot('   .        system boot  Dec 31 23:58\n', utc(2027, 1, 1, 0, 5))).toEqual({
        bootedAt: utc(2026, 12, 31, 23, 58),
        key: 'who-202612312358',
      });
      expect(parseWhoBoot(fixtureText('who/who-b-aix.txt'), utc(2026, 12, 3, 2, 0))?.bootedAt).toEqual(
        utc(2026, 11, 22, 3, 10),
      );
    },
  );

  it('reads nothing from output without a boot record or with an impossible date', () => {
    expect(parseWhoBoot('', new Date())).toBeNull();
    expect(parseWhoBoot('who: cannot open /etc/utmp\n', new Date())).toBeNull();
    expect(parseWhoBoot('   .        system boot  Feb 31 03:10\n', utc(2026, 12, 1, 0, 0))).toBeNull();
  });
});
