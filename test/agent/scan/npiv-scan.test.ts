import { afterEach, describe, expect, it } from 'vitest';
import { scanHost } from '../../../agent/scan/scan.ts';
import type { ToolRunner } from '../../../agent/scan/tool-runner.ts';
import { HostSnapshot } from '../../../events/index.ts';
import { runTool } from '../../../sim/fake-host/tools.mjs';
import { createFakeHost, type FakeHost, NPIV_WWID, npivClientModel } from '../../helpers/fake-host.ts';

/**
 * NPIV paths through a VIOS carry the VIOS's domain (§3 Failure domain): a client whose root disk
 * comes by vSCSI from vios1 and whose SAN LUN comes by NPIV through vios1 and vios2 sees one domain
 * per VIOS, whatever the disks are attached by.
 */

const VIOS1 = 'vscsi:Server-9080-M9S-SN78AB12C/vios1';
const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

/** `multipath -ll` answered by the fake multipathd's `show topology`, which prints the same. */
const tools =
  (host: FakeHost): ToolRunner =>
  async (request) => {
    if (request.tool !== 'multipath') return null;
    const result = runTool('multipathd', ['show', 'topology'], host.root);
    return result.stdout === '' ? null : result.stdout;
  };

describe('a client with vSCSI and NPIV disks from two VIOS', () => {
  it("gives the vSCSI disk and each NPIV path its VIOS's domain, vscsi:<system>/<vios>", async () => {
    const host = createFakeHost(npivClientModel('lnxnpiv01.example.net'));
    hosts.push(host);
    const snapshot = await scanHost({
      root: host.root,
      hostId: 'lnxnpiv01.example.net',
      now: new Date('2026-11-22T03:12:00Z'),
      runTool: tools(host),
    });
    expect(HostSnapshot.safeParse(snapshot).success).toBe(true);
    expect(snapshot.disks.map((disk) => [disk.disk, disk.driver, disk.failureDomain])).toEqual([
      ['sda', 'ibmvscsi', VIOS1],
      ['sdb', 'ibmvfc', VIOS1],
      ['sdc', 'ibmvfc', VIOS1],
      ['sdd', 'ibmvfc', VIOS2],
      ['sde', 'ibmvfc', VIOS2],
    ]);
    expect(snapshot.maps).toEqual([
      {
        map: 'mpatha',
        wwid: NPIV_WWID,
        paths: [
          { path: 'sdb', hctl: '1:0:0:0', failureDomain: VIOS1, state: 'active' },
          { path: 'sdd', hctl: '2:0:0:0', failureDomain: VIOS2, state: 'active' },
          { path: 'sdc', hctl: '1:0:1:0', failureDomain: VIOS1, state: 'ghost' },
          { path: 'sde', hctl: '2:0:1:0', failureDomain: VIOS2, state: 'ghost' },
        ],
      },
    ]);
  });

  it('falls back to the FC target port for a path whose adapter has not logged in to its VIOS', async () => {
    const model = npivClientModel('lnxnpiv01.example.net');
    const host2 = model.scsiHosts.host2;
    if (host2 !== undefined) delete host2.partitionName;
    const host = createFakeHost(model);
    hosts.push(host);
    const snapshot = await scanHost({
      root: host.root,
      hostId: 'lnxnpiv01.example.net',
      now: new Date('2026-11-22T03:12:00Z'),
      runTool: tools(host),
    });
    expect(snapshot.disks.find((disk) => disk.disk === 'sdb')?.failureDomain).toBe(VIOS1);
    expect(snapshot.disks.find((disk) => disk.disk === 'sdd')?.failureDomain).toBe('fc:500507680b22ac1c');
  });
});
