import { describe, expect, it } from 'vitest';
import {
  identityOfDomain,
  partitionIdentity,
  partitionNameFromUnameL,
} from '../../probes/partition-identity.ts';

describe('partition identity', () => {
  it('names a VIOS from uname -L, -M and -u as its clients name it from vhost_loc', () => {
    const name = partitionNameFromUnameL('2 vios2\n');
    expect(name).toBe('vios2');
    expect(partitionIdentity(name ?? '', 'IBM,9080-M9S\n', 'IBM,0278AB12C\n')).toEqual({
      partition: 'vios2',
      system: 'Server-9080-M9S-SN78AB12C',
      failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
    });
  });

  it('names a Linux partition from its NUL-terminated device tree', () => {
    expect(partitionIdentity('lnxvios1\0', 'IBM,9080-M9S\0', 'IBM,0278AB12C\0')?.failureDomain).toBe(
      'vscsi:Server-9080-M9S-SN78AB12C/lnxvios1',
    );
  });

  it('names nothing outside an LPAR or from a name that is not a console name', () => {
    expect(partitionNameFromUnameL('-1 NULL\n')).toBeNull();
    expect(partitionNameFromUnameL('3 my vios\n')).toBeNull();
    expect(partitionIdentity('vios2', 'x86_64', 'IBM,0278AB12C')).toBeNull();
  });

  it('splits a configured vscsi domain, and refuses another kind', () => {
    expect(identityOfDomain('vscsi:Server-9080-M9S-SN78AB12C/vios2')).toEqual({
      system: 'Server-9080-M9S-SN78AB12C',
      partition: 'vios2',
      failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
    });
    expect(identityOfDomain('vdisk:cdom1/alternate')).toBeNull();
  });
});
