import { describe, expect, it } from 'vitest';
import {
  type DomainSighting,
  domainRuns,
  serviceDomainChanges,
  serviceDomainRoles,
} from '../../probes/service-domains.ts';

const NOW = new Date('2026-11-22T03:10:00.000Z');
const roles = new Map([['alternate', 'alternate' as const]]);
const sighting = (
  state: DomainSighting['state'],
  flags: string,
  uptimeSeconds: number | null,
): DomainSighting => ({
  name: 'alternate',
  state,
  flags,
  uptimeSeconds,
});
const recorded = (up: boolean, seenAt: string, uptimeSeconds: number | null = null) => ({
  alternate: { up, seenAt, uptimeSeconds },
});

describe('domainRuns', () => {
  it('runs when active and neither stopping nor in transition', () => {
    expect(domainRuns({ state: 'active', flags: '-n--v-' })).toBe(true);
    expect(domainRuns({ state: 'active', flags: '-n-cv' })).toBe(true);
    expect(domainRuns({ state: 'active', flags: 's---v-' })).toBe(false);
    expect(domainRuns({ state: 'active', flags: '-t--v-' })).toBe(false);
    expect(domainRuns({ state: 'bound', flags: '------' })).toBe(false);
    expect(domainRuns({ state: 'inactive', flags: '------' })).toBe(false);
  });
});

describe('serviceDomainChanges', () => {
  it('records a service domain seen for the first time without announcing it', () => {
    const { changes, next } = serviceDomainChanges({}, [sighting('bound', '------', null)], roles, NOW);
    expect(changes).toEqual([]);
    expect(next).toEqual({ alternate: { up: false, seenAt: NOW.toISOString(), uptimeSeconds: null } });
  });

  it.each([
    ['bound', '----v-', 'service domain alternate is bound'],
    ['inactive', '------', 'service domain alternate is inactive'],
    ['active', 's---v-', 'service domain alternate is stopping (flags s---v-)'],
    ['active', '-t--v-', 'service domain alternate is in transition (flags -t--v-)'],
  ] as const)('says down once when it goes %s (%s)', (state, flags, reason) => {
    const before = recorded(true, '2026-11-22T03:09:55.000Z', 3600);
    const { changes, next } = serviceDomainChanges(before, [sighting(state, flags, null)], roles, NOW);
    expect(changes).toEqual([{ kind: 'down', domain: 'alternate', role: 'alternate', reason }]);
    expect(serviceDomainChanges(next, [sighting(state, flags, null)], roles, NOW).changes).toEqual([]);
  });

  it('says up, dated by its uptime, when it runs again', () => {
    const { changes } = serviceDomainChanges(
      recorded(false, '2026-11-22T03:09:55.000Z'),
      [sighting('active', '-n--v-', 42)],
      roles,
      NOW,
    );
    expect(changes).toEqual([
      { kind: 'up', domain: 'alternate', role: 'alternate', bootedAt: '2026-11-22T03:09:18.000Z' },
    ]);
  });

  it('says up when its uptime is shorter than the time since it was last seen running, and not otherwise', () => {
    const lastLook = recorded(true, '2026-11-22T02:10:00.000Z', 86_000);
    expect(serviceDomainChanges(lastLook, [sighting('active', '-n--v-', 600)], roles, NOW).changes).toEqual([
      { kind: 'up', domain: 'alternate', role: 'alternate', bootedAt: '2026-11-22T03:00:00.000Z' },
    ]);
    expect(
      serviceDomainChanges(lastLook, [sighting('active', '-n--v-', 89_600)], roles, NOW).changes,
    ).toEqual([]);
  });

  it('watches only service domains, and forgets one no longer listed', () => {
    const { changes, next } = serviceDomainChanges(
      recorded(true, NOW.toISOString()),
      [{ name: 'ldg1', state: 'bound', flags: '------', uptimeSeconds: null }],
      roles,
      NOW,
    );
    expect(changes).toEqual([]);
    expect(next).toEqual({});
  });
});

describe('serviceDomainRoles', () => {
  it('takes the domains exporting disks, the control domain as primary, unless the configuration names them', () => {
    expect([...serviceDomainRoles(undefined, ['primary', 'alternate'], 'primary')]).toEqual([
      ['primary', 'primary'],
      ['alternate', 'alternate'],
    ]);
    expect([...serviceDomainRoles({ iodom1: 'io' }, ['primary', 'alternate'], 'primary')]).toEqual([
      ['iodom1', 'io'],
    ]);
  });
});
