import { describe, expect, it } from 'vitest';
import { overriddenFailureDomain, TopologyOverrides } from '../../probes/topology.ts';

describe('TopologyOverrides', () => {
  const topology = TopologyOverrides.parse({
    disks: { c0d1: 'vdisk:primary/primary', sdc: 'fc:500507680b21ac1c' },
    scsiHosts: { host3: 'vscsi:Server-9080-M9S-SN78AB12C/vios1' },
  });

  it('lets a disk override win over its SCSI host and a host override cover its disks', () => {
    expect(overriddenFailureDomain(topology, 'sdc', 'host3')).toBe('fc:500507680b21ac1c');
    expect(overriddenFailureDomain(topology, 'sde', 'host3')).toBe('vscsi:Server-9080-M9S-SN78AB12C/vios1');
    expect(overriddenFailureDomain(topology, 'c0d1', null)).toBe('vdisk:primary/primary');
    expect(overriddenFailureDomain(topology, 'sdz', 'host9')).toBeNull();
    expect(overriddenFailureDomain(undefined, 'sdc', 'host3')).toBeNull();
    expect(overriddenFailureDomain(topology, 'constructor', null)).toBeNull();
  });

  it('rejects unknown keys, bad disk names and bad domains with the path of each', () => {
    const result = TopologyOverrides.safeParse({
      disks: { '../sdb': 'local:x' },
      scsiHosts: { host1: 'vscsi:no-partition' },
      wwids: {},
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual(
      expect.arrayContaining(['disks.../sdb', 'scsiHosts.host1', '']),
    );
  });
});
