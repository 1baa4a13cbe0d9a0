import { describe, expect, it } from 'vitest';
import { parseWhoBoot, whoBootKeyInUtc } from '../../probes/who-boot.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const local = (year: number, month: number, day: number, hour: number, minute: number) =>
  new Date(year, month - 1, day, hour, minute);

describe('parseWhoBoot', () => {
  it('reads the AIX boot record, without a year, in the year of now', () => {
    const boot = parseWhoBoot(fixtureText('who/who-b-aix.txt'), local(2026, 12, 3, 2, 0));
    expect(boot).toEqual({ bootedAt: local(2026, 11, 22, 3, 10), key: 'who-202611220310' });
  });

  it('puts a boot of late December read in January in the year before', () => {
    const boot = parseWhoBoot('   .        system boot  Dec 31 23:58\n', local(2027, 1, 1, 0, 5));
    expect(boot?.bootedAt).toEqual(local(2026, 12, 31, 23, 58));
  });

  it('reads the GNU layout with its year', () => {
    const boot = parseWhoBoot(fixtureText('who/who-b-linux.txt'), local(2027, 6, 1, 0, 0));
    expect(boot).toEqual({ bootedAt: local(2026, 11, 22, 3, 10), key: 'who-202611220310' });
  });

  it('names a boot as who -b printing in UTC would: the key an agent that ran it without TZ kept', () => {
    expect(whoBootKeyInUtc(new Date('2026-11-22T09:10:37Z'))).toBe('who-202611220910');
    expect(whoBootKeyInUtc(new Date('2026-12-31T23:59:59Z'))).toBe('who-202612312359');
  });

  it('reads nothing from output without a boot record or with an impossible date', () => {
    expect(parseWhoBoot('', new Date())).toBeNull();
    expect(parseWhoBoot('who: cannot open /etc/utmp\n', new Date())).toBeNull();
    expect(parseWhoBoot('   .        system boot  Feb 31 03:10\n', local(2026, 12, 1, 0, 0))).toBeNull();
  });
});
