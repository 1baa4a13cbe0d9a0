import { afterAll, describe, expect, it } from 'vitest';
import { ProbeError } from '../../../agent/scan/errors.ts';
import { scanHost, scanHostInDetail } from '../../../agent/scan/scan.ts';
import {
  createCapturedToolRunner,
  type ToolRequest,
  type ToolRunner,
} from '../../../agent/scan/tool-runner.ts';
import { HostSnapshot } from '../../../events/index.ts';
import {
  buildTree,
  fixtureText,
  materializeTree,
  removeScratchTrees,
  removeTreePath,
  writeTreeFile,
} from '../../helpers/agent-probes.ts';

afterAll(removeScratchTrees);

const NOW = new Date('2026-11-22T03:10:00.000Z');
const VIOS1 = 'vscsi:Server-9080-M9S-SN78AB12C/vios1';
const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';

/** A runner that records what the scan asked for and answers from the tree's captures. */
const recordingRunner = (root: string): { runTool: ToolRunner; requests: ToolRequest[] } => {
  const requests: ToolRequest[] = [];
  const captured = createCapturedToolRunner(root);
  return {
    requests,
    runTool: (request) => {
      requests.push(request);
      return captured(request);
    },
  };
};

describe('scanHost', () => {
  it('scans a Linux md client on two VIOS: every member in sync, each half on its own VIOS', async () => {
    const root = materializeTree('md-client-two-vios');
    const { runTool, requests } = recordingRunner(root);
    const scan = await scanHostInDetail({ root, hostId: 'lnxclient07', now: NOW, runTool });
    expect(scan.warnings).toEqual([]);
    expect(requests).toEqual([]);
    const snapshot = HostSnapshot.parse(scan.snapshot);
    expect(snapshot).toMatchObject({
      hostId: 'lnxclient07',
      bootId: 'b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1',
      platform: 'linux',
      role: 'client',
      takenAt: '2026-11-22T03:10:00.000Z',
      maps: [],
      domains: [],
    });
    expect(snapshot.arrays).toEqual([
      {
        array: 'md0',
        kind: 'md',
        level: 'raid1',
        state: 'clean',
        members: [
          { device: 'sda1', disk: 'sda', state: 'in-sync', failureDomain: VIOS1 },
          { device: 'sdb1', disk: 'sdb', state: 'in-sync', failureDomain: VIOS2 },
        ],
        bitmap: true,
        uuid: '3b1c2f4e:8a9d0b1c:2e3f4a5b:6c7d8e9f',
      },
      {
        array: 'md1',
        kind: 'md',
        level: 'raid1',
        state: 'clean',
        members: [
          { device: 'sda2', disk: 'sda', state: 'in-sync', failureDomain: VIOS1 },
          { device: 'sdb2', disk: 'sdb', state: 'in-sync', failureDomain: VIOS2 },
        ],
        bitmap: false,
        uuid: '5a4b3c2d:1e0f9a8b:7c6d5e4f:3a2b1c0d',
      },
      {
        array: 'md2',
        kind: 'md',
        level: 'raid1',
        state: 'clean',
        members: [
          { device: 'sda3', disk: 'sda', state: 'in-sync', failureDomain: VIOS1 },
          { device: 'sdb3', disk: 'sdb', state: 'in-sync', failureDomain: VIOS2 },
        ],
        bitmap: true,
        uuid: '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a',
      },
    ]);
    expect(snapshot.disks).toEqual([
      {
        disk: 'sda',
        hctl: '0:0:1:0',
        scsiHost: 'host0',
        driver: 'ibmvscsi',
        sizeBytes: 53687091200,
        failureDomain: VIOS1,
        deviceState: 'running',
      },
      {
        disk: 'sdb',
        hctl: '1:0:2:0',
        scsiHost: 'host1',
        driver: 'ibmvscsi',
        sizeBytes: 53687091200,
        failureDomain: VIOS2,
        deviceState: 'running',
      },
    ]);
  });

  it('scans the same client while vios2 is down: the failed halves faulty, the swap mirror not yet, UUIDs from the captured mdadm -D', async () => {
    const root = materializeTree('md-client-degraded');
    const { runTool, requests } = recordingRunner(root);
    const scan = await scanHostInDetail({ root, hostId: 'lnxclient07', now: NOW, runTool });
    expect(scan.warnings).toEqual([]);
    expect(requests.map((request) => [request.tool, ...request.args].join(' ')).sort()).toEqual([
      'mdadm --detail /dev/md0',
      'mdadm --detail /dev/md1',
      'mdadm --detail /dev/md2',
    ]);
    const snapshot = HostSnapshot.parse(scan.snapshot);
    expect(snapshot.arrays.map((array) => [array.array, array.state, array.uuid, array.bitmap])).toEqual([
      ['md0', 'degraded', '3b1c2f4e:8a9d0b1c:2e3f4a5b:6c7d8e9f', true],
      ['md1', 'clean', '5a4b3c2d:1e0f9a8b:7c6d5e4f:3a2b1c0d', false],
      ['md2', 'degraded', '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a', true],
    ]);
    expect(
      snapshot.arrays.flatMap((array) =>
        array.members.map((member) => [member.device, member.state, member.failureDomain]),
      ),
    ).toEqual([
      ['sda1', 'in-sync', VIOS1],
      ['sdb1', 'faulty', VIOS2],
      ['sda2', 'in-sync', VIOS1],
      ['sdb2', 'in-sync', VIOS2],
      ['sda3', 'in-sync', VIOS1],
      ['sdb3', 'faulty', VIOS2],
    ]);
    expect(snapshot.disks.find((disk) => disk.disk === 'sdb')).toMatchObject({
      deviceState: 'offline',
      failureDomain: VIOS2,
    });
  });

  it('reads a recovery from sysfs member states, which name the rebuilding member exactly', async () => {
    const root = materializeTree('md-client-two-vios');
    writeTreeFile(root, 'proc/mdstat', fixtureText('mdstat/recovering.txt'));
    writeTreeFile(root, 'sys/block/md2/md/dev-sdb3/state', 'spare\n');
    writeTreeFile(root, 'sys/block/md1/md/dev-sdb2/state', 'spare\n');
    const scan = await scanHostInDetail({ root, hostId: 'lnxclient07', now: NOW });
    expect(scan.warnings).toEqual([]);
    const states = scan.snapshot.arrays.map((array) => [
      array.array,
      array.state,
      ...array.members.map((member) => `${member.device}:${member.state}`),
    ]);
    expect(states).toEqual([
      ['md0', 'clean', 'sda1:in-sync', 'sdb1:in-sync'],
      ['md1', 'degraded', 'sda2:in-sync', 'sdb2:rebuilding'],
      ['md2', 'recovering', 'sda3:in-sync', 'sdb3:rebuilding'],
    ]);
    expect(scan.sync).toEqual({
      md2: { progress: 35.2, finishMinutes: 4.1 },
      md1: { progress: null, finishMinutes: null },
    });
  });

  it('reads the sectors of md/sync_completed beside the percentage, none for a delayed resync', async () => {
    const root = materializeTree('md-client-two-vios');
    writeTreeFile(root, 'proc/mdstat', fixtureText('mdstat/recovering.txt'));
    writeTreeFile(root, 'sys/block/md2/md/sync_completed', '29360128 / 83816448\n');
    writeTreeFile(root, 'sys/block/md1/md/sync_completed', 'delayed\n');
    const scan = await scanHostInDetail({ root, hostId: 'lnxclient07', now: NOW });
    expect(scan.sync).toEqual({
      md2: { progress: 35.2, finishMinutes: 4.1, syncedSectors: 29_360_128, totalSectors: 83_816_448 },
      md1: { progress: null, finishMinutes: null },
    });
  });

  it('asks mdadm --detail which member rebuilds when sysfs cannot tell, and says so when nothing can', async () => {
    const root = materializeTree('md-client-two-vios');
    writeTreeFile(root, 'proc/mdstat', fixtureText('mdstat/recovering.txt'));
    removeTreePath(root, 'sys/block/md2/md');
    writeTreeFile(
      root,
      'sos_commands/md/mdadm_-D_.dev.md',
      fixtureText('mdadm/detail-degraded-recovering.txt'),
    );
    const resolved = await scanHost({ root, hostId: 'lnxclient07', now: NOW });
    expect(
      resolved.arrays.find((array) => array.array === 'md2')?.members.map((member) => member.state),
    ).toEqual(['in-sync', 'rebuilding']);

    removeTreePath(root, 'sos_commands');
    const unresolved = await scanHostInDetail({ root, hostId: 'lnxclient07', now: NOW });
    expect(
      unresolved.snapshot.arrays
        .find((array) => array.array === 'md2')
        ?.members.map((member) => member.state),
    ).toEqual(['rebuilding', 'rebuilding']);
    expect(unresolved.warnings.map((warning) => warning.reason)).toEqual([
      'md2: cannot tell whether sdb3 is in sync or rebuilding; reported as rebuilding',
      'md2: cannot tell whether sda3 is in sync or rebuilding; reported as rebuilding',
    ]);
  });

  it('scans a multipath host: path states from multipath -ll, each path on its FC target port', async () => {
    const root = materializeTree('multipath-host');
    const snapshot = await scanHost({ root, hostId: 'lnxclient07', now: NOW });
    expect(HostSnapshot.safeParse(snapshot).success).toBe(true);
    expect(snapshot.maps).toEqual([
      {
        map: 'mpatha',
        wwid: '36005076801810523f8000000000000a1',
        paths: [
          { path: 'sdc', hctl: '3:0:0:0', failureDomain: 'fc:500507680b21ac1c', state: 'active' },
          { path: 'sdd', hctl: '4:0:0:0', failureDomain: 'fc:500507680b22ac1c', state: 'offline' },
          { path: 'sde', hctl: '3:0:1:0', failureDomain: 'fc:500507680b31ac1c', state: 'active' },
          { path: 'sdf', hctl: '4:0:1:0', failureDomain: 'fc:500507680b32ac1c', state: 'active' },
        ],
      },
    ]);
    expect(snapshot.disks.map((disk) => disk.disk)).toEqual(['sda', 'sdc', 'sdd', 'sde', 'sdf']);
    expect(snapshot.disks.find((disk) => disk.disk === 'sdc')?.wwid).toBe(
      '36005076801810523f8000000000000a1',
    );
  });

  it('leaves orphan paths out of the snapshot with a warning', async () => {
    const root = materializeTree('multipath-host');
    writeTreeFile(
      root,
      'sos_commands/multipath/multipath_-ll',
      fixtureText('multipath/pending-and-orphan.txt'),
    );
    const scan = await scanHostInDetail({ root, hostId: 'lnxclient07', now: NOW });
    expect(scan.snapshot.maps[0]?.paths.map((path) => [path.path, path.state])).toEqual([
      ['sdo', 'pending'],
      ['sdp', 'active'],
    ]);
    expect(scan.warnings.map((warning) => warning.reason)).toEqual([
      'mpathd: an orphan path (#:#:#:#) has no device or address; left out',
    ]);
  });

  it('scans SVM mirrors of an LDoms guest, failure domains from the topology overrides', async () => {
    const root = materializeTree('ldoms-guest');
    const topology = { disks: { c0d1: 'vdisk:primary/primary', c0d2: 'vdisk:primary/alternate' } };
    const snapshot = await scanHost({ root, hostId: 'ldg1', now: NOW, topology });
    expect(snapshot).toMatchObject({
      platform: 'solaris',
      role: 'client',
      bootId: 'unknown',
      maps: [],
      domains: [],
    });
    expect(snapshot.arrays).toEqual([
      {
        array: 'd0',
        kind: 'svm',
        level: 'raid1',
        state: 'degraded',
        members: [
          {
            device: 'c0d1s0',
            disk: 'c0d1',
            state: 'in-sync',
            failureDomain: 'vdisk:primary/primary',
            submirror: 'd10',
          },
          {
            device: 'c0d2s0',
            disk: 'c0d2',
            state: 'maintenance',
            failureDomain: 'vdisk:primary/alternate',
            submirror: 'd20',
          },
        ],
      },
      {
        array: 'd1',
        kind: 'svm',
        level: 'raid1',
        state: 'degraded',
        members: [
          {
            device: 'c0d1s1',
            disk: 'c0d1',
            state: 'in-sync',
            failureDomain: 'vdisk:primary/primary',
            submirror: 'd11',
          },
          {
            device: 'c0d2s1',
            disk: 'c0d2',
            state: 'maintenance',
            failureDomain: 'vdisk:primary/alternate',
            submirror: 'd21',
          },
        ],
      },
    ]);
    expect(snapshot.disks).toEqual([
      { disk: 'c0d1', driver: 'vdc', failureDomain: 'vdisk:primary/primary' },
      { disk: 'c0d2', driver: 'vdc', failureDomain: 'vdisk:primary/alternate' },
    ]);

    const undiscovered = await scanHost({ root, hostId: 'ldg1', now: NOW });
    expect(undiscovered.arrays[0]?.members.map((member) => member.failureDomain)).toEqual([
      'local:ldg1',
      'local:ldg1',
    ]);
  });

  it('counts the state database replicas of an LDoms guest per slice from metadb -i: those its returned disk keeps in error, and the active ones', async () => {
    const root = materializeTree('ldoms-guest');
    writeTreeFile(root, 'sos_commands/svm/metadb_-i', fixtureText('metadb/replicas-in-error.txt'));
    const { runTool, requests } = recordingRunner(root);
    const scan = await scanHostInDetail({ root, hostId: 'ldg1', now: NOW, runTool });
    expect(requests.filter((request) => request.tool === 'metadb').map((request) => request.args)).toEqual([
      ['-i'],
    ]);
    expect(scan.warnings.filter((warning) => warning.source === 'metadb')).toEqual([]);
    expect(HostSnapshot.parse(scan.snapshot).replicas).toEqual([
      { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 0, erred: 3 },
    ]);

    writeTreeFile(root, 'sos_commands/svm/metadb_-i', fixtureText('metadb/unknown-locators.txt'));
    expect((await scanHost({ root, hostId: 'ldg1', now: NOW })).replicas).toEqual([
      { slice: 'c0d0s7', count: 2, active: 2, erred: 0 },
      { slice: 'c0d1s7', count: 2, active: 0, erred: 2 },
      { slice: 'c0d2s7', count: 1, active: 1, erred: 0 },
    ]);

    writeTreeFile(root, 'sos_commands/svm/metadb_-i', fixtureText('metadb/healthy.txt'));
    expect((await scanHost({ root, hostId: 'ldg1', now: NOW })).replicas).toEqual([
      { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 3, erred: 0 },
    ]);
  });

  it('reports no replicas when metadb says nothing sure: not run, no state database, or a line it cannot read', async () => {
    const root = materializeTree('ldoms-guest');
    const unread = await scanHostInDetail({ root, hostId: 'ldg1', now: NOW });
    expect(unread.snapshot).not.toHaveProperty('replicas');
    expect(unread.snapshot.arrays).toHaveLength(2);

    writeTreeFile(root, 'sos_commands/svm/metadb_-i', 'metadb: ldg1: there are no existing databases\n');
    const none = await scanHostInDetail({ root, hostId: 'ldg1', now: NOW });
    expect(none.snapshot).not.toHaveProperty('replicas');
    expect(none.warnings.filter((warning) => warning.source === 'metadb')).toEqual([]);

    const text = fixtureText('metadb/replicas-in-error.txt');
    writeTreeFile(root, 'sos_commands/svm/metadb_-i', `${text}metadb: ldg1: stale databases\n`);
    const garbled = await scanHostInDetail({ root, hostId: 'ldg1', now: NOW });
    expect(garbled.snapshot).not.toHaveProperty('replicas');
    expect(garbled.warnings.filter((warning) => warning.source === 'metadb')).toEqual([
      {
        source: 'metadb',
        line: 0,
        text: 'metadb: ldg1: stale databases',
        reason: 'a line of metadb -i not read: replicas not reported',
      },
    ]);

    const replicaLine = '     a    p  luo    \t16\t\t8192\t\t/dev/dsk/c0d0s7\n';
    writeTreeFile(root, 'sos_commands/svm/metadb_-i', replicaLine.repeat(51));
    const tooMany = await scanHostInDetail({ root, hostId: 'ldg1', now: NOW });
    expect(tooMany.snapshot).not.toHaveProperty('replicas');
    expect(tooMany.warnings.map((warning) => warning.reason)).toContainEqual(
      expect.stringMatching(/^replicas not reported: /),
    );
  });

  it('scans a control domain: its domains from ldm list -p make its role control', async () => {
    const root = materializeTree('ldoms-control');
    const snapshot = await scanHost({ root, hostId: 'primary', now: NOW });
    expect(snapshot.role).toBe('control');
    expect(snapshot.domains.map((domain) => `${domain.name}:${domain.state}`)).toEqual([
      'primary:active',
      'alternate:active',
      'ldg1:active',
      'ldg2:bound',
      'ldg3:inactive',
    ]);
    expect((await scanHost({ root, hostId: 'primary', role: 'hosting', now: NOW })).role).toBe('hosting');
  });

  it('scans an empty tree to an empty snapshot, saying it found no boot id', async () => {
    const scan = await scanHostInDetail({ root: buildTree({}), hostId: 'empty', now: NOW });
    expect(scan.snapshot).toEqual({
      hostId: 'empty',
      bootId: 'unknown',
      platform: 'linux',
      role: 'client',
      takenAt: '2026-11-22T03:10:00.000Z',
      arrays: [],
      maps: [],
      disks: [],
      domains: [],
    });
    expect(scan.warnings.map((warning) => warning.reason)).toEqual([
      "no boot id or boot time; reported as 'unknown'",
    ]);
  });

  it('refuses a host id that is not one', async () => {
    await expect(scanHost({ root: buildTree({}), hostId: 'not a host', now: NOW })).rejects.toThrow(
      ProbeError,
    );
  });

  it('is cheap enough to run every few seconds: a scan of the md fixture takes milliseconds', async () => {
    const root = materializeTree('md-client-two-vios');
    await scanHost({ root, hostId: 'lnxclient07', now: NOW });
    const rounds = 20;
    const started = performance.now();
    for (let round = 0; round < rounds; round += 1) await scanHost({ root, hostId: 'lnxclient07', now: NOW });
    const perScanMs = (performance.now() - started) / rounds;
    expect(perScanMs).toBeLessThan(100);
  });
});
