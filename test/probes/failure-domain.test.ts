import { describe, expect, it } from 'vitest';
import {
  canonicalWwid,
  fcFailureDomain,
  hostingPartitionName,
  localFailureDomain,
  systemFromDeviceTree,
  systemFromLocationCode,
  systemFromVirtualLocationCode,
  vscsiFailureDomain,
} from '../../probes/failure-domain.ts';

describe('failure domains', () => {
  it('names the managed system from a vhost location code as the HMC does by default', () => {
    expect(systemFromLocationCode('U9080.M9S.78AB12C-V7-C2\n')).toBe('Server-9080-M9S-SN78AB12C');
    expect(systemFromLocationCode('U8233.E8B.061AB2P-V3-C3')).toBe('Server-8233-E8B-SN061AB2P');
    expect(systemFromLocationCode('30000003')).toBeNull();
  });

  it("names the system from an ibmvfc host's drc_name, never from a physical port's location code", () => {
    expect(systemFromVirtualLocationCode('U9080.M9S.78AB12C-V1-C30\n')).toBe('Server-9080-M9S-SN78AB12C');
    expect(systemFromVirtualLocationCode('U78D3.001.WZS0ABC-P1-C6-T1')).toBeNull();
    expect(systemFromVirtualLocationCode('')).toBeNull();
  });

  it('names the same system from the device tree when there is no vhost_loc', () => {
    expect(systemFromDeviceTree('IBM,9080-M9S\0', 'IBM,0278AB12C\0')).toBe('Server-9080-M9S-SN78AB12C');
    expect(systemFromDeviceTree('QEMU', 'x')).toBeNull();
  });

  it('takes the hosting partition only once the adapter heard from it', () => {
    expect(hostingPartitionName('vios2\n', 'lnxclient07\0')).toBe('vios2');
    expect(hostingPartitionName('UNKNOWN\n', null)).toBeNull();
    expect(hostingPartitionName('lnxclient07\n', 'lnxclient07\0')).toBeNull();
    expect(hostingPartitionName('bad name\n', null)).toBeNull();
  });

  it('builds vscsi, fc and local domains that validate, and refuses the rest', () => {
    expect(vscsiFailureDomain('Server-9080-M9S-SN78AB12C', 'vios1')).toBe(
      'vscsi:Server-9080-M9S-SN78AB12C/vios1',
    );
    expect(vscsiFailureDomain('a/b', 'vios1')).toBeNull();
    expect(fcFailureDomain('0x500507680B21AC1C\n')).toBe('fc:500507680b21ac1c');
    expect(fcFailureDomain('0xffff')).toBeNull();
    expect(localFailureDomain('lnxclient07.example.net')).toBe('local:lnxclient07.example.net');
    expect(() => localFailureDomain('not a host')).toThrow(RangeError);
  });

  it('writes sysfs WWIDs the way multipath prints them', () => {
    expect(canonicalWwid('naa.6005076801810523F8000000000000A1\n')).toBe('36005076801810523f8000000000000a1');
    expect(canonicalWwid('eui.0025388b91b1c3d1')).toBe('20025388b91b1c3d1');
    expect(canonicalWwid('t10.AIX     VDASD           00f6db0a')).toBe('1AIX_VDASD_00f6db0a');
    expect(canonicalWwid('   ')).toBeNull();
  });
});
