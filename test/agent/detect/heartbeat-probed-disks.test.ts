import { afterEach, describe, expect, it } from 'vitest';
import { heartbeatDraft } from '../../../agent/detect/heartbeat.ts';
import { hostObserver } from '../../../agent/detect/host-observer.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { HostHeartbeatData } from '../../../events/index.ts';
import { runTool } from '../../../sim/fake-host/tools.mjs';
import { type FakeHost, fakeMdClient } from '../../helpers/fake-host.ts';
import { LAYOUT, VIOS1, VIOS2 } from '../executor/harness.ts';

/**
 * Heartbeat `disks` carry `deviceState` and `readable` from the disk watch's last probe (§3), and
 * only for the disks it probes: a disk nobody probes says nothing of its state.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

const CONTEXT = { platform: 'linux', role: 'client', intervalSeconds: 60, capabilities: [] } as const;

describe('heartbeat disks', () => {
  it('show deviceState and readable of a probed disk, and neither of a disk not probed', async () => {
    const host = fakeMdClient(LAYOUT, 'offline');
    hosts.push(host);
    const observer = hostObserver(
      { root: host.root, hostId: LAYOUT.hostId, role: 'client', topology: undefined },
      memoryLog(),
      async (request) => {
        const result = runTool(request.tool, request.args, host.root);
        return `${result.stdout}${result.stderr}` || null;
      },
      { searchPath: host.searchPath, waitMs: 5_000 },
    );
    const { snapshot } = await observer.observe(new Date());
    const data = heartbeatDraft(snapshot, CONTEXT).data;
    expect(HostHeartbeatData.safeParse(data).success).toBe(true);
    expect(data.disks.map(({ sizeBytes: _size, ...disk }) => disk)).toEqual([
      { disk: 'sda', hctl: '0:0:1:0', scsiHost: 'host0', driver: 'ibmvscsi', failureDomain: VIOS1 },
      {
        disk: 'sdb',
        hctl: LAYOUT.hctl,
        scsiHost: 'host1',
        driver: 'ibmvscsi',
        failureDomain: VIOS2,
        deviceState: 'offline',
        readable: false,
      },
    ]);
  });
});
