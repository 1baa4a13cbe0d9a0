import { describe, expect, it } from 'vitest';
import { parseLdmList } from '../../probes/ldm.ts';
import { guestDisksOf, parseLdmDisks } from '../../probes/ldm-disks.ts';
import { parseLdmServices, serviceDomainsOf } from '../../probes/ldm-services.ts';
import { ldmDomainUptimes } from '../../probes/ldm-uptime.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

describe('parseLdmServices', () => {
  it('reads the virtual disk services of ldm list-services -p with their domains and volumes', () => {
    const reading = parseLdmServices(fixtureText('ldm-services/list-services-parseable.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.version).toBe('1.6');
    expect(reading.services).toEqual([
      { name: 'primary-vds0', domain: 'primary', volumes: ['ldg1-root', 'ldg1-data', 'ldg2-root'] },
      { name: 'alternate-vds0', domain: 'alternate', volumes: ['ldg1-data2'] },
    ]);
    expect(serviceDomainsOf(reading.services)).toEqual(['primary', 'alternate']);
  });

  it('finds no service domain where no domain runs a virtual disk service', () => {
    const reading = parseLdmServices(fixtureText('ldm-services/list-services-no-vds.txt'));
    expect(reading.warnings).toEqual([]);
    expect(serviceDomainsOf(reading.services)).toEqual([]);
  });

  it('warns about what is not ldm output and about a VDS naming no domain', () => {
    const reading = parseLdmServices(
      [
        'Failed to connect to logical domain manager: Connection refused',
        'VDS|name=x-vds0|nclients=1',
        '|vol=v|dev=/dev/x',
      ].join('\n'),
    );
    expect(reading.services).toEqual([]);
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [1, 'not an ldm -p line'],
      [2, 'VDS x-vds0 names no domain (ldom=)'],
    ]);
  });
});

describe('parseLdmDisks', () => {
  it('reads each domain of ldm list -o disk -p with the services it runs and the disks it uses', () => {
    const reading = parseLdmDisks(fixtureText('ldm-disks/list-disks-parseable.txt'));
    expect(reading.warnings).toEqual([]);
    expect(
      reading.domains.map((domain) => [
        domain.name,
        domain.services.map((s) => s.name),
        domain.vdisks.length,
      ]),
    ).toEqual([
      ['primary', ['primary-vds0'], 0],
      ['alternate', ['alternate-vds0'], 0],
      ['ldg1', [], 3],
      ['ldg2', [], 1],
      ['ldg3', [], 0],
    ]);
    expect(reading.domains[2]?.vdisks[2]).toEqual({
      name: 'vdisk2',
      volume: 'ldg1-data2',
      service: 'alternate-vds0',
      id: 2,
      server: 'alternate',
      mpgroup: null,
    });
  });

  it('names each guest disk c0d<id> with the failure domain of the service domain serving it', () => {
    const reading = parseLdmDisks(fixtureText('ldm-disks/list-disks-parseable.txt'));
    const placed = guestDisksOf(reading, {
      controlHostId: 'cdom1',
      guestNames: { ldg2: 'ldg2.example.net' },
    });
    expect(placed.unplaced).toEqual([]);
    expect(placed.guests).toEqual([
      { guest: 'ldg1', disk: 'c0d0', failureDomain: 'vdisk:cdom1/primary' },
      { guest: 'ldg1', disk: 'c0d1', failureDomain: 'vdisk:cdom1/primary' },
      { guest: 'ldg1', disk: 'c0d2', failureDomain: 'vdisk:cdom1/alternate' },
      { guest: 'ldg2.example.net', disk: 'c0d0', failureDomain: 'vdisk:cdom1/primary' },
    ]);
  });

  it("carries each guest's state from ldm list -p, which ldm list -o disk -p does not print: a bound guest's disks are listed too", () => {
    const reading = parseLdmDisks(fixtureText('ldm-disks/list-disks-parseable.txt'));
    const domains = parseLdmList(fixtureText('ldm/list-parseable.txt')).domains;
    const placed = guestDisksOf(reading, {
      controlHostId: 'cdom1',
      guestNames: { ldg2: 'ldg2.example.net' },
      domains,
    });
    expect(placed.guests.map((disk) => [disk.guest, disk.disk, disk.state])).toEqual([
      ['ldg1', 'c0d0', 'active'],
      ['ldg1', 'c0d1', 'active'],
      ['ldg1', 'c0d2', 'active'],
      ['ldg2.example.net', 'c0d0', 'bound'],
    ]);
    // A guest ldm list -p did not name carries no state (it counts as active, as before states).
    expect(
      guestDisksOf(reading, { controlHostId: 'cdom1', domains: [] }).guests.every(
        (disk) => disk.state === undefined,
      ),
    ).toBe(true);
  });

  it('places a disk of an ldm that prints no server by the domain running its service, or says it cannot', () => {
    const reading = parseLdmDisks(fixtureText('ldm-disks/list-disks-no-server.txt'));
    expect(reading.warnings).toEqual([]);
    const alone = guestDisksOf(reading, { controlHostId: 'cdom1' });
    expect(alone.guests).toEqual([{ guest: 'ldg1', disk: 'c0d0', failureDomain: 'vdisk:cdom1/primary' }]);
    expect(alone.unplaced).toEqual(['ldg1 vdisk1: no domain runs alternate-vds0']);
    const services = parseLdmServices(fixtureText('ldm-services/list-services-parseable.txt')).services;
    expect(guestDisksOf(reading, { controlHostId: 'cdom1', services }).guests).toEqual([
      { guest: 'ldg1', disk: 'c0d0', failureDomain: 'vdisk:cdom1/primary' },
      { guest: 'ldg1', disk: 'c0d1', failureDomain: 'vdisk:cdom1/alternate' },
    ]);
  });

  it('warns about a disk without a device id or a volume, and a disk before any domain', () => {
    const reading = parseLdmDisks(
      [
        'VERSION 1.6',
        'VDISK|name=orphan|vol=v@primary-vds0|dev=disk@0',
        'DOMAIN|name=ldg1|',
        'VDISK|name=a|vol=novolume|dev=disk@0',
        'VDISK|name=b|vol=v@primary-vds0|dev=',
      ].join('\n'),
    );
    expect(reading.domains).toEqual([{ name: 'ldg1', services: [], vdisks: [] }]);
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [2, 'VDISK before any DOMAIN record'],
      [4, "vdisk a: vol 'novolume' is not <volume>@<service>"],
      [5, 'vdisk b: no device id (dev=disk@<id>)'],
    ]);
  });
});

describe('ldmDomainUptimes', () => {
  it('reads the uptime of each domain of ldm list -p, none for a domain that is not running', () => {
    const uptimes = ldmDomainUptimes(fixtureText('ldm/list-parseable.txt'));
    expect(Object.fromEntries(uptimes)).toEqual({
      primary: 1053060,
      alternate: 1052940,
      ldg1: 338700,
      ldg2: null,
      ldg3: null,
    });
  });
});
