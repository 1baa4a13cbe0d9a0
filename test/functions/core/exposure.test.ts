// The per-resource rules of functions/core/exposure.ts (docs/architecture.md §5.4): where an array's good
// copies and a map's usable paths live, and what losing one domain costs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Member } from '../../../events/index.ts';
import {
  type ArrayRecord,
  exposedDomainsOf,
  exposuresOf,
  freshHost,
  inSyncDomainsOf,
  isMapSinglePointOfFailure,
  isSinglePointOfFailure,
  losesLastInSyncHalf,
  mapLosesAllActivePaths,
  mapsOf,
  type PathRecord,
  pathDomainsOf,
} from '../../../functions/core/index.ts';

const WATERMARK = { bootid: 'b', seq: 1 };
const A = 'vscsi:sys/vios1';
const B = 'vscsi:sys/vios2';

const member = (device: string, state: Member['state'], failureDomain: string): Member => ({
  device,
  disk: device.replace(/\d+$/, ''),
  state,
  failureDomain,
});

const array = (members: Member[], health: ArrayRecord['health'] = 'degraded'): ArrayRecord => ({
  array: 'md0',
  kind: 'md',
  level: 'raid1',
  members,
  known: members,
  health,
  watermark: WATERMARK,
  changedAt: '2026-11-22T03:00:00.000Z',
});

const path = (
  name: string,
  state: PathRecord['state'],
  failureDomain: string,
  map = 'mpatha',
): PathRecord => ({
  map,
  wwid: '3600507680c80810c1800000000000a3f',
  path: name,
  hctl: '2:0:1:3',
  failureDomain,
  state,
  watermark: WATERMARK,
  changedAt: '2026-11-22T03:00:00.000Z',
});

describe('exposure of arrays', () => {
  it('finds the domains of the in-sync members only', () => {
    const record = array([member('sda1', 'in-sync', A), member('sdb1', 'faulty', B)]);
    expect(inSyncDomainsOf(record)).toEqual([A]);
    expect(losesLastInSyncHalf(record, A)).toBe(true);
    expect(losesLastInSyncHalf(record, B)).toBe(false);
  });

  it('says a healthy mirror over two domains loses no last half, and one on a single domain is a single point of failure', () => {
    const mirrored = array([member('sda1', 'in-sync', A), member('sdb1', 'in-sync', B)], 'healthy');
    expect(losesLastInSyncHalf(mirrored, A)).toBe(false);
    expect(isSinglePointOfFailure(mirrored)).toBe(false);
    const onOne = array([member('sda1', 'in-sync', A), member('sdb1', 'in-sync', A)], 'healthy');
    expect(isSinglePointOfFailure(onOne)).toBe(true);
    expect(losesLastInSyncHalf(onOne, A)).toBe(true);
  });

  it('does not call an array with no in-sync member left exposed on any one domain', () => {
    const lost = array([member('sda1', 'faulty', A), member('sdb1', 'faulty', B)]);
    expect(losesLastInSyncHalf(lost, A)).toBe(false);
    expect(losesLastInSyncHalf(lost, B)).toBe(false);
  });

  it('loses its last half on a domain exactly when that domain is the only one holding in-sync members', () => {
    const states: Member['state'][] = ['in-sync', 'faulty', 'spare', 'rebuilding', 'maintenance'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ state: fc.constantFrom(...states), domain: fc.constantFrom(A, B, 'fc:1') }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.constantFrom(A, B, 'fc:1'),
        (specs, domain) => {
          const record = array(
            specs.map((spec, index) => member(`sd${'abcd'[index]}1`, spec.state, spec.domain)),
          );
          const inSync = specs.filter((spec) => spec.state === 'in-sync').map((spec) => spec.domain);
          const expected = inSync.length > 0 && inSync.every((candidate) => candidate === domain);
          expect(losesLastInSyncHalf(record, domain)).toBe(expected);
        },
      ),
    );
  });
});

describe('exposure of multipath maps', () => {
  it('finds the domains of usable paths, ghosts included', () => {
    const paths = [path('sdc', 'failed', A), path('sdd', 'ghost', B)];
    expect(pathDomainsOf(paths)).toEqual([B]);
    expect(mapLosesAllActivePaths(paths, B)).toBe(true);
    expect(mapLosesAllActivePaths(paths, A)).toBe(false);
    expect(isMapSinglePointOfFailure(paths)).toBe(false);
    expect(isMapSinglePointOfFailure([path('sdc', 'active', A), path('sdd', 'active', A)])).toBe(true);
  });

  it('groups a host paths by map, in name order', () => {
    const host = freshHost('db01');
    host.paths = {
      'mpathb/sde': path('sde', 'active', A, 'mpathb'),
      'mpatha/sdd': path('sdd', 'active', B),
      'mpatha/sdc': path('sdc', 'failed', A),
    };
    expect(Object.keys(mapsOf(host.paths))).toEqual(['mpatha', 'mpathb']);
    expect(mapsOf(host.paths).mpatha?.map((p) => p.path)).toEqual(['sdc', 'sdd']);
  });
});

describe('exposures of a host', () => {
  it('lists a degraded array and a map with a failed path by the one domain that still holds them', () => {
    const host = freshHost('lnx01');
    host.arrays = { md0: array([member('sda1', 'in-sync', A), member('sdb1', 'faulty', B)]) };
    host.paths = { 'mpatha/sdc': path('sdc', 'failed', A), 'mpatha/sdd': path('sdd', 'active', B) };
    expect(exposuresOf(host)).toEqual([
      { resource: 'array:md0', failureDomain: A },
      { resource: 'map:mpatha', failureDomain: B },
    ]);
    expect(exposedDomainsOf(host)).toEqual([A, B]);
  });

  it('lists healthy resources on a single domain (a single point of failure), and nothing of a real mirror', () => {
    const host = freshHost('lnx02');
    host.arrays = {
      md0: array([member('sda1', 'in-sync', A), member('sdb1', 'in-sync', A)], 'healthy'),
      md1: {
        ...array([member('sda2', 'in-sync', A), member('sdb2', 'in-sync', B)], 'healthy'),
        array: 'md1',
      },
    };
    host.paths = { 'mpatha/sdc': path('sdc', 'active', A) };
    expect(exposuresOf(host)).toEqual([
      { resource: 'array:md0', failureDomain: A },
      { resource: 'map:mpatha', failureDomain: A },
    ]);
  });

  it("lists nothing on local disks: a RAID1 over two local disks is no server's single point of failure", () => {
    const host = freshHost('x86db01');
    const LOCAL = 'local:x86db01';
    host.arrays = {
      md0: array([member('sda1', 'in-sync', LOCAL), member('sdb1', 'in-sync', LOCAL)], 'healthy'),
    };
    expect(exposuresOf(host)).toEqual([]);
    expect(isSinglePointOfFailure(host.arrays.md0 as ArrayRecord)).toBe(false);
  });
});
