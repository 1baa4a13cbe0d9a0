import { describe, expect, it } from 'vitest';
import { parseLdmList, toLdmOutput } from '../../probes/ldm.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const DOMAINS = [
  { name: 'primary', state: 'active', flags: '-n-cv-' },
  { name: 'alternate', state: 'active', flags: '-n--v-' },
  { name: 'ldg1', state: 'active', flags: '-n----' },
  { name: 'ldg2', state: 'bound', flags: '------' },
  { name: 'ldg3', state: 'inactive', flags: '------' },
];

describe('parseLdmList', () => {
  it('reads the ldm list table with bound and inactive domains', () => {
    const reading = parseLdmList(fixtureText('ldm/list.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.version).toBeNull();
    expect(toLdmOutput(reading)).toEqual({ domains: DOMAINS });
  });

  it('reads the parseable form of ldm list -p to the same domains', () => {
    const reading = parseLdmList(fixtureText('ldm/list-parseable.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.version).toBe('1.6');
    expect(toLdmOutput(reading)).toEqual({ domains: DOMAINS });
  });

  it('reads the LDoms 1.0 table, five-character flags and no NORM column', () => {
    const reading = parseLdmList(fixtureText('ldm/list-ldoms-1.0.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.domains).toEqual([
      { name: 'primary', state: 'active', flags: '-n-cv' },
      { name: 'ldom1', state: 'active', flags: '-t---' },
      { name: 'ldom2', state: 'bound', flags: '-----' },
    ]);
  });

  it('passes over other parseable records and warns about lines it cannot read', () => {
    const reading = parseLdmList(
      [
        'VERSION 1.6',
        'DOMAIN|name=primary|state=active|flags=-n-cv-|cons=UART|ncpu=16',
        'VCPU|vid=0|pid=0|util=0.6|strand=100',
        'DOMAIN|name=ldg9|state=migrating|flags=-n----',
        'DOMAIN|name=bad/name|state=active|flags=-n----',
        'Authorization failed',
      ].join('\n'),
    );
    expect(reading.domains).toEqual([{ name: 'primary', state: 'active', flags: '-n-cv-' }]);
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [4, "domain state 'migrating' not understood"],
      [5, "domain 'bad/name' does not fit the ldm parse shape"],
      [6, 'not an ldm list line'],
    ]);
  });
});
