import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Detector } from '../../../agent/detect/detector.ts';
import { type DiskWatchSettings, hostObserver } from '../../../agent/detect/host-observer.ts';
import { returnedDiskProbe } from '../../../agent/detect/returned-disk.ts';
import type { ToolRunner } from '../../../agent/scan/tool-runner.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { MemoryStateDirectory } from '../../../agent/state/state-directory.ts';
import type { FaultlineEvent, SnapshotDisk } from '../../../events/index.ts';
import type { TopologyOverrides } from '../../../probes/topology.ts';
import type { FakeLun } from '../../../sim/fake-host/host-model.mjs';
import { runTool } from '../../../sim/fake-host/tools.mjs';
import {
  createFakeHost,
  type FakeHost,
  fakeMdClient,
  recordingSink,
  svmGuestModel,
} from '../../helpers/fake-host.ts';
import { FOREIGN_UUID, LAYOUT, VIOS2 } from '../executor/harness.ts';

/**
 * Clients confirm (§3 `disk.probed` without `planid`): the disk watch over a simulated host whose
 * fake `dd` is first on the search path, as the agent runs it on a real one.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});
const track = (host: FakeHost) => {
  hosts.push(host);
  return host;
};

/** The scan's tools, run in process on the fake host (the watch's dd runs as a process). */
const inProcessTools =
  (host: FakeHost): ToolRunner =>
  async (request) => {
    const result = runTool(request.tool, request.args, host.root);
    const output = `${result.stdout}${result.stderr}`;
    return output === '' ? null : output;
  };

/** The agent's observer and detection over a fake host, with a directory that survives a "restart". */
const watching = (
  host: FakeHost,
  settings: DiskWatchSettings = {},
  options: { directory?: MemoryStateDirectory; topology?: TopologyOverrides } = {},
) => {
  const log = memoryLog();
  const model = host.model();
  const observer = hostObserver(
    { root: host.root, hostId: model.hostId, role: 'client', topology: options.topology },
    log,
    inProcessTools(host),
    { searchPath: host.searchPath, waitMs: 5_000, ...settings },
  );
  const directory = options.directory ?? new MemoryStateDirectory();
  const detector = Detector.load({
    directory,
    bootId: model.bootId,
    log,
    probeReturnedDisk: returnedDiskProbe(host.root, observer.examine),
  });
  const sink = recordingSink({ hostId: model.hostId, bootId: model.bootId });
  /** One scan of the agent: observe, then detect. */
  const scan = async () => {
    const observation = await observer.observe(new Date());
    await detector.observe(observation, sink);
    return observation;
  };
  return { observer, detector, sink, scan, directory, log };
};

const diskOf = (disks: readonly SnapshotDisk[], name: string) => disks.find((disk) => disk.disk === name);
const probed = (events: readonly FaultlineEvent[]) => events.filter((event) => event.type === 'disk.probed');
const ddReads = (host: FakeHost) => host.reads().filter((argv) => argv[0] === 'dd');
const remoteLun = (host: FakeHost, change: (lun: FakeLun) => void) =>
  host.update((model) => {
    const lun = model.luns[LAYOUT.hctl];
    if (lun !== undefined) change(lun);
  });

describe('the disk watch', () => {
  it('probes the disk of a faulty member on a remote failure domain, and no other', async () => {
    const host = track(fakeMdClient(LAYOUT, 'offline'));
    const { scan } = watching(host);
    const { snapshot, probes } = await scan();
    expect(diskOf(snapshot.disks, 'sdb')).toMatchObject({ deviceState: 'offline', readable: false });
    expect(diskOf(snapshot.disks, 'sda')?.readable).toBeUndefined();
    expect([...(probes?.keys() ?? [])]).toEqual(['sdb']);
    expect(probes?.get('sdb')?.detail).toBe("dd: failed to open '/dev/sdb': No such device or address");
    expect(ddReads(host)).toEqual([
      ['dd', 'if=/dev/sdb', 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct'],
    ]);
  });

  it('probes nothing on a healthy host, nor a faulty member whose disk is local', async () => {
    const healthy = track(fakeMdClient(LAYOUT, 'healthy'));
    await watching(healthy).scan();
    expect(ddReads(healthy)).toEqual([]);

    const local = track(fakeMdClient(LAYOUT, 'offline'));
    local.update((model) => {
      const host1 = model.scsiHosts.host1;
      if (host1 !== undefined) delete host1.partitionName;
    });
    const { snapshot } = await watching(local).scan();
    expect(diskOf(snapshot.disks, 'sdb')?.failureDomain).toBe(`local:${LAYOUT.hostId}`);
    expect(ddReads(local)).toEqual([]);
  });

  it('keeps probing the disk of a member that went missing while its array stays degraded', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    const { scan } = watching(host);
    expect((await scan()).probes?.has('sdb')).toBe(true);
    expect(runTool('mdadm', ['/dev/md0', '--remove', '/dev/sdb1'], host.root).code).toBe(0);
    const missing = await scan();
    expect(missing.snapshot.arrays.find((array) => array.array === 'md0')?.members).toHaveLength(1);
    expect(diskOf(missing.snapshot.disks, 'sdb')).toMatchObject({ deviceState: 'running', readable: true });
    expect(runTool('mdadm', ['/dev/md0', '--re-add', '/dev/sdb1'], host.root).code).toBe(0);
    const rebuilding = await scan();
    expect(rebuilding.probes?.size).toBe(0);
    expect(diskOf(rebuilding.snapshot.disks, 'sdb')?.readable).toBeUndefined();
    expect(ddReads(host)).toHaveLength(2);
  });

  it('reports a disk whose node vanished as gone and not readable, without reading it', async () => {
    const host = track(fakeMdClient(LAYOUT, 'offline'));
    const { scan } = watching(host);
    await scan();
    remoteLun(host, (lun) => {
      lun.attached = null;
    });
    const { snapshot, probes } = await scan();
    expect(diskOf(snapshot.disks, 'sdb')).toMatchObject({
      hctl: LAYOUT.hctl,
      failureDomain: VIOS2,
      deviceState: 'gone',
      readable: false,
    });
    expect(probes?.get('sdb')?.draft.data.partitions).toEqual([
      { device: 'sdb1', array: 'md0' },
      { device: 'sdb2', array: 'md1' },
    ]);
    expect(ddReads(host)).toHaveLength(1);
  });

  it('runs one dd per disk at a time: a hung read is not started again while it runs', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    remoteLun(host, (lun) => {
      lun.hangs = true;
    });
    const { scan } = watching(host, { timeoutMs: 1_500, waitMs: 100 });
    const first = await scan();
    expect(diskOf(first.snapshot.disks, 'sdb')).toMatchObject({ deviceState: 'running', readable: false });
    expect(first.probes?.get('sdb')?.detail).toBe('no read finished yet');
    // Scan after scan until the read is killed at its timeout: none starts another dd meanwhile.
    // (The fake dd logs its read once its process is up, which on a loaded machine can come after
    // a scan or two: at most one read is logged until the timeout.)
    const deadline = Date.now() + 20_000;
    let detail = first.probes?.get('sdb')?.detail;
    while (detail !== 'timed out after 1.5 s' && Date.now() < deadline) {
      expect(ddReads(host).length).toBeLessThanOrEqual(1);
      await sleep(100);
      const again = await scan();
      detail = again.probes?.get('sdb')?.detail;
      expect(diskOf(again.snapshot.disks, 'sdb')?.readable).toBe(false);
    }
    expect(detail).toBe('timed out after 1.5 s');
    // Once the killed read's process is gone, a scan starts the next read, and only one.
    while (ddReads(host).length < 2 && Date.now() < deadline) {
      await sleep(100);
      await scan();
    }
    expect(ddReads(host)).toHaveLength(2);
  });

  it('sends exactly one disk.probed, without planid, when a disk that did not read reads again', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    remoteLun(host, (lun) => {
      lun.hangs = true;
    });
    const { scan, sink } = watching(host, { timeoutMs: 300 });
    const hung = await scan();
    expect(hung.probes?.get('sdb')?.detail).toBe('timed out after 0.3 s');
    expect(probed(sink.events)).toEqual([]);

    remoteLun(host, (lun) => {
      lun.hangs = false;
    });
    await scan();
    await scan();
    const [event, ...more] = probed(sink.events);
    expect(more).toEqual([]);
    expect(event?.planid).toBeUndefined();
    expect(event?.subject).toBe('sdb');
    expect(event?.data).toEqual({
      disk: 'sdb',
      hctl: LAYOUT.hctl,
      scsiHost: 'host1',
      failureDomain: VIOS2,
      deviceState: 'running',
      readable: true,
      partitions: [
        { device: 'sdb1', array: 'md0', uuid: LAYOUT.mirrors[0].uuid, role: 'active', events: 1800 },
        { device: 'sdb2', array: 'md1', uuid: LAYOUT.mirrors[1].uuid, role: 'active', events: 120 },
      ],
    });
  });

  it('sends disk.probed again when the superblock it reads changes, not at every scan', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    const { scan, sink } = watching(host);
    await scan();
    await scan();
    expect(probed(sink.events)).toEqual([]);
    const md0 = host.model().arrays.md0;
    host.setSuperblock(LAYOUT.hctl, 1, {
      uuid: FOREIGN_UUID,
      name: 'other:0',
      level: 'raid1',
      raidDevices: 2,
      events: 7,
      role: 'active',
      slot: 0,
      bitmap: md0?.bitmap ?? true,
    });
    await scan();
    await scan();
    const events = probed(sink.events);
    expect(events).toHaveLength(1);
    expect(events[0]?.type === 'disk.probed' && events[0].data.partitions[0]).toMatchObject({
      device: 'sdb1',
      uuid: FOREIGN_UUID,
    });
  });

  it('reports a disk that comes back by itself once, though it both returned and reads again', async () => {
    const host = track(fakeMdClient(LAYOUT, 'offline'));
    const { scan, sink } = watching(host);
    await scan();
    remoteLun(host, (lun) => {
      lun.state = 'running';
      lun.readable = true;
    });
    await scan();
    await scan();
    expect(probed(sink.events).map((event) => event.type === 'disk.probed' && event.data.readable)).toEqual([
      true,
    ]);
  });

  it('sends disk.probed after an agent restart for a disk unreadable before it and readable after', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    remoteLun(host, (lun) => {
      lun.hangs = true;
    });
    const before = watching(host, { timeoutMs: 300 });
    await before.scan();
    expect(probed(before.sink.events)).toEqual([]);

    remoteLun(host, (lun) => {
      lun.hangs = false;
    });
    const after = watching(host, {}, { directory: before.directory });
    await after.scan();
    await after.scan();
    expect(probed(after.sink.events).map((event) => event.subject)).toEqual(['sdb']);
  });

  it('probes a Maintenance submirror component of an SVM mirror through the raw slice', async () => {
    const model = svmGuestModel('ldg1.example.net');
    model.platform = 'solaris';
    const host = track(createFakeHost(model));
    const topology = { disks: { c0d0: 'vdisk:cdom1/primary', c0d1: 'vdisk:cdom1/alternate' } };
    const { scan, sink } = watching(host, {}, { topology });
    const readable = await scan();
    expect(diskOf(readable.snapshot.disks, 'c0d1')).toMatchObject({ deviceState: 'running', readable: true });
    expect(diskOf(readable.snapshot.disks, 'c0d0')?.readable).toBeUndefined();
    expect(readable.probes?.get('c0d1')?.draft.data.partitions).toEqual([{ device: 'c0d1s0', array: 'd10' }]);
    host.update((current) => {
      const disk = current.solarisDisks?.c0d1;
      if (disk !== undefined) disk.readable = false;
    });
    const unreadable = await scan();
    expect(diskOf(unreadable.snapshot.disks, 'c0d1')).toMatchObject({
      deviceState: 'offline',
      readable: false,
    });
    host.update((current) => {
      const disk = current.solarisDisks?.c0d1;
      if (disk !== undefined) disk.readable = true;
    });
    await scan();
    expect(probed(sink.events).map((event) => event.subject)).toEqual(['c0d1']);
    expect(ddReads(host).map((argv) => argv[1])).toEqual([
      'if=/dev/rdsk/c0d1s2',
      'if=/dev/rdsk/c0d1s2',
      'if=/dev/rdsk/c0d1s2',
    ]);
  });
});
