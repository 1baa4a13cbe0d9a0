import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ToolMissingError } from '../../agent/executor/errors.ts';
import type { ExecutorConfig } from '../../agent/executor/plan-runner.ts';
import { executorSearchPath, type RunProgram } from '../../agent/executor/programs.ts';
import type { Clock } from '../../agent/executor/step-context.ts';
import { type WriteSysfs, writeSysfsFile } from '../../agent/executor/sysfs.ts';
import {
  advance,
  DATA_OFFSET_BYTES,
  type FakeArray,
  type FakeLogEntry,
  type FakeModel,
  type FakeSuperblock,
  loadModel,
  logAction,
  readActions,
  readReads,
  saveModel,
  saveModelOnly,
  scsiDelete,
  scsiScan,
  scsiSetState,
  superblockPath,
  updateModel,
} from './host-model.mjs';
import { runTool, TOOL_NAMES } from './tools.mjs';

/**
 * A simulated host, for the demo's fleet and the executor's tests: a root tree rendered from a
 * model (host-model.mjs), fake storage programs generated as `#!/usr/bin/env node` scripts into a folder that is the whole
 * search path the executor gets (so no real `mdadm` is ever reached), the fake kernel (the sysfs
 * writer that reacts to `delete`, `scan` and `state` as the SCSI midlayer does, EBUSY and EINVAL included) and a clock
 * whose sleeps make time pass on the host (resyncs progress, late partitions appear) without
 * waiting. Every command that changes the host, and every sysfs write, is recorded with its
 * argument vector.
 */

const SIM_HOST_DIR = import.meta.dirname;

export type FakeHost = {
  root: string;
  /** The generated programs, and a `node` link for their `#!/usr/bin/env node`. */
  binDir: string;
  /** The folder of the fakes, then the usual search path. */
  searchPath: string[];
  /** The fake kernel's side of sysfs writes. */
  writeSysfs: WriteSysfs;
  /** Virtual time: `sleep` advances the host's time instead of waiting. */
  clock: Clock & { advance: (ms: number) => void };
  /** The fake tools called in process (no child process), for property tests. */
  runInProcess: RunProgram;
  stopFile: string;
  stateDir: string;
  fallbackStateDir: string;
  model: () => FakeModel;
  update: (change: (model: FakeModel) => void) => void;
  /** The argument vectors of every command that changed the host or tried to, in order. */
  actions: () => string[][];
  actionLog: () => FakeLogEntry[];
  reads: () => string[][];
  setSuperblock: (hctl: string, partition: number, superblock: FakeSuperblock | null) => void;
  config: (overrides?: Partial<ExecutorConfig>) => ExecutorConfig;
  remove: () => void;
};

const ebusy = (path: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`EBUSY: resource busy or locked, write '${path}'`), {
    code: 'EBUSY',
    errno: -16,
    syscall: 'write',
  });

/** The errno a sysfs write fails with: EINVAL for a state the kernel will not take. */
const sysfsError = (code: string, path: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: write '${path}'`), { code, syscall: 'write' });

export const createFakeHost = (
  model: FakeModel,
  options: { start?: number; programs?: boolean } = {},
): FakeHost => {
  const base = mkdtempSync(join(tmpdir(), 'faultline-fake-host-'));
  const root = join(base, 'root');
  const binDir = join(base, 'bin');
  mkdirSync(join(root, '.fake-host', 'superblocks'), { recursive: true });
  mkdirSync(binDir, { recursive: true });
  saveModel(root, model);
  if (options.programs !== false) {
    symlinkSync(process.execPath, join(binDir, 'node'));
    const tools = pathToFileURL(join(SIM_HOST_DIR, 'tools.mjs')).href;
    for (const name of TOOL_NAMES) {
      const script = join(binDir, name);
      writeFileSync(
        script,
        `#!/usr/bin/env node\nimport(${JSON.stringify(tools)}).then((tools) => tools.main(${JSON.stringify(name)}, ${JSON.stringify(root)}));\n`,
      );
      chmodSync(script, 0o755);
    }
  }

  const writeSysfs: WriteSysfs = async (path, text) => {
    const shown = `/${relative(root, path)}`;
    logAction(root, { argv: ['write', shown, text] });
    const deleted = /^\/sys\/class\/scsi_device\/([^/]+)\/device\/delete$/.exec(shown);
    if (deleted?.[1] !== undefined && loadModel(root).luns[deleted[1]]?.heldOpen === true) throw ebusy(path);
    await writeSysfsFile(path, text);
    const stated = /^\/sys\/class\/scsi_device\/([^/]+)\/device\/state$/.exec(shown)?.[1];
    if (stated !== undefined) {
      const current = loadModel(root);
      const errno = scsiSetState(current, stated, text);
      saveModel(root, current);
      if (errno !== null) throw sysfsError(errno, path);
      return;
    }
    const scanned = /^\/sys\/class\/scsi_host\/(host\d+)\/scan$/.exec(shown);
    if (deleted?.[1] !== undefined) {
      const hctl = deleted[1];
      updateModel(root, (current) => scsiDelete(root, current, hctl));
    } else if (scanned?.[1] !== undefined) {
      const host = scanned[1];
      const [channel, target, lun] = text.trim().split(/\s+/);
      updateModel(root, (current) => scsiScan(current, host, channel ?? '-', target ?? '-', lun ?? '-'));
    }
  };

  let now = options.start ?? Date.parse('2026-11-22T03:13:00.000Z');
  const clock: FakeHost['clock'] = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
      const current = loadModel(root);
      if (advance(root, current, ms)) saveModel(root, current);
      else saveModelOnly(root, current);
      await new Promise((resolve) => setImmediate(resolve));
    },
    advance: (ms) => {
      now += ms;
    },
  };

  const runInProcess: RunProgram = async (program, args, options = {}) => {
    if (!TOOL_NAMES.includes(program)) throw new ToolMissingError(program, [binDir]);
    const result = runTool(program, args, root);
    if (result.hangs === true) {
      // The real program would never return: it is killed at its timeout, as the runner kills one.
      await new Promise<void>((resolve) => {
        if (options.timeoutMs !== undefined) setTimeout(resolve, options.timeoutMs);
        options.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      return { exitCode: null, stdout: '', stderr: '', timedOut: options.signal?.aborted !== true };
    }
    return { exitCode: result.code, stdout: result.stdout, stderr: result.stderr, timedOut: false };
  };

  const stateDir = join(base, 'state');
  const fallbackStateDir = join(base, 'run');
  const stopFile = join(base, 'stop');
  return {
    root,
    binDir,
    // First on the path; every program the executor runs is among them, so no real tool is reached.
    searchPath: [binDir, ...executorSearchPath(process.env.PATH)],
    writeSysfs,
    clock,
    runInProcess,
    stopFile,
    stateDir,
    fallbackStateDir,
    model: () => loadModel(root),
    update: (change) => updateModel(root, change),
    actions: () => readActions(root).map((entry) => entry.argv),
    actionLog: () => readActions(root),
    reads: () => readReads(root).map((entry) => entry.argv),
    setSuperblock: (hctl, partition, superblock) => {
      const path = superblockPath(root, hctl, partition);
      if (superblock === null) rmSync(path, { force: true });
      else writeFileSync(path, `${JSON.stringify(superblock, null, 2)}\n`);
    },
    config: (overrides = {}) => ({
      hostId: model.hostId,
      root,
      topology: undefined,
      stopFile,
      stateDir,
      fallbackStateDir,
      ...overrides,
    }),
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
};

// ---------------------------------------------------------------------------------------------
// Builders of host models

/** The space mdadm keeps before the data on each member (1 MiB). */
export const DATA_OFFSET_BYTES_FOR_TESTS: number = DATA_OFFSET_BYTES;

/** The managed system of the fakes, as its location codes name it (`Server-9080-M9S-SN78AB12C`). */
export const FAKE_SYSTEM = 'U9080.M9S.78AB12C';
export const FAKE_BTIME = Math.floor(Date.parse('2026-11-20T08:00:00Z') / 1000);

/** An empty host: no disks, no arrays. */
export const emptyModel = (hostId: string, bootId = 'b1d3c6f0-1c2d-4e5f-8a9b-0c1d2e3f4a5b'): FakeModel => ({
  hostId,
  bootId,
  btime: FAKE_BTIME,
  system: FAKE_SYSTEM,
  ownPartition: hostId.split('.')[0] ?? hostId,
  simMs: 0,
  scsiHosts: {},
  luns: {},
  arrays: {},
  mounts: [],
  swaps: [],
  extraHolders: {},
  dm: {},
  multipath: [],
  svm: null,
});

/** An md client's layout: two disks from two VIOS, and a mirror per partition number. */
export type MdClientLayout = {
  hostId: string;
  localDisk: string;
  remoteDisk: string;
  /** The remote disk's address and SCSI host (the half the plan is about). */
  hctl: string;
  scsiHost: string;
  mirrors: readonly { array: string; uuid: string; partition: number }[];
  diskBytes?: number;
  /** The hosting partitions of the local and the remote half. */
  localPartition?: string;
  remotePartition?: string;
};

export const DISK_BYTES = 53_687_091_200;
const PARTITION_BYTES = [42_949_672_960, 8_589_934_592, 1_073_741_824, 536_870_912];

/** The size of a partition of the fakes' disks. */
export const partitionBytes = (partition: number): number => PARTITION_BYTES[partition - 1] ?? 268_435_456;

/** Where the remote half is: offline (the VIOS is back, the disk is not), back by itself, or healthy. */
export type RemoteHalf = 'offline' | 'back' | 'healthy';

/**
 * A Linux client with md RAID1 mirrors, one half on a disk from each VIOS, as the field case
 * leaves it: the root mirror's remote member faulty (it saw the I/O errors), the swap mirror's
 * still in sync (nothing wrote to swap meanwhile), and the remote disk offline, or back by itself.
 */
export const mdClientModel = (layout: MdClientLayout, remote: RemoteHalf): FakeModel => {
  const model = emptyModel(layout.hostId);
  const remoteHost = layout.scsiHost;
  const remoteNumber = Number(remoteHost.slice('host'.length));
  const localNumber = remoteNumber === 0 ? 1 : 0;
  const localHost = `host${localNumber}`;
  model.scsiHosts[localHost] = {
    driver: 'ibmvscsi',
    adapter: '30000002',
    partitionName: layout.localPartition ?? 'vios1',
    partitionNumber: 1,
    slot: 2,
  };
  model.scsiHosts[remoteHost] = {
    driver: 'ibmvscsi',
    adapter: '30000003',
    partitionName: layout.remotePartition ?? 'vios2',
    partitionNumber: 2,
    slot: 3,
  };
  const partitions = layout.mirrors.map((mirror) => ({
    number: mirror.partition,
    sizeBytes: partitionBytes(mirror.partition),
  }));
  const diskBytes = layout.diskBytes ?? DISK_BYTES;
  model.luns[`${localNumber}:0:1:0`] = {
    name: layout.localDisk,
    attached: layout.localDisk,
    exported: true,
    state: 'running',
    readable: true,
    sizeBytes: diskBytes,
    partitions,
    partitionsAt: 0,
    heldOpen: false,
  };
  model.luns[layout.hctl] = {
    name: layout.remoteDisk,
    attached: layout.remoteDisk,
    exported: true,
    state: remote === 'offline' ? 'offline' : 'running',
    readable: remote !== 'offline',
    sizeBytes: diskBytes,
    partitions,
    partitionsAt: 0,
    heldOpen: false,
  };
  layout.mirrors.forEach((mirror, index) => {
    const rootMirror = index === 0;
    const remoteState = rootMirror && remote !== 'healthy' ? 'faulty' : 'in_sync';
    const array: FakeArray = {
      uuid: mirror.uuid,
      name: `${model.ownPartition}:${mirror.array.slice(2)}`,
      level: 'raid1',
      metadata: '1.2',
      raidDevices: 2,
      sizeKiB: (partitionBytes(mirror.partition) - DATA_OFFSET_BYTES) / 1024,
      bitmap: true,
      events: rootMirror ? 1842 : 120,
      nextDescriptor: 2,
      members: [
        { device: `${layout.localDisk}${mirror.partition}`, descriptor: 0, slot: 0, state: 'in_sync' },
        { device: `${layout.remoteDisk}${mirror.partition}`, descriptor: 1, slot: 1, state: remoteState },
      ],
      recovery: null,
      ratePerSecond: 2,
      reAddRatePerSecond: 20,
      stalled: false,
    };
    model.arrays[mirror.array] = array;
  });
  return model;
};

/** The superblocks an md client's partitions hold: each names its mirror; the remote root half is behind. */
export const seedMdClientSuperblocks = (host: FakeHost, layout: MdClientLayout, remote: RemoteHalf): void => {
  const model = host.model();
  const localHctl =
    Object.entries(model.luns).find(([, lun]) => lun.name === layout.localDisk)?.[0] ?? '0:0:1:0';
  layout.mirrors.forEach((mirror, index) => {
    const array = model.arrays[mirror.array] as FakeArray;
    const superblock = (slot: number, events: number): FakeSuperblock => ({
      uuid: array.uuid,
      name: array.name,
      level: array.level,
      raidDevices: array.raidDevices,
      events,
      role: 'active',
      slot,
      bitmap: array.bitmap,
    });
    host.setSuperblock(localHctl, mirror.partition, superblock(0, array.events));
    const behind = index === 0 && remote !== 'healthy' ? array.events - 42 : array.events;
    host.setSuperblock(layout.hctl, mirror.partition, superblock(1, behind));
  });
};

/** A fake md client with its superblocks. */
export const fakeMdClient = (
  layout: MdClientLayout,
  remote: RemoteHalf,
  options: { start?: number } = {},
): FakeHost => {
  const host = createFakeHost(mdClientModel(layout, remote), options);
  seedMdClientSuperblocks(host, layout, remote);
  return host;
};

/** An LDoms guest with one SVM mirror: `d10` of `d11` (`c0d0s0`, Okay) and `d12` (`c0d1s0`, Maintenance). */
export const svmGuestModel = (hostId: string): FakeModel => ({
  ...emptyModel(hostId),
  solarisDisks: { c0d0: { readable: true }, c0d1: { readable: true } },
  svm: {
    mirrors: [
      {
        name: 'd10',
        blocks: 41_945_472,
        resync: null,
        submirrors: [
          { name: 'd11', state: 'Okay', components: [{ device: 'c0d0s0', state: 'Okay' }] },
          {
            name: 'd12',
            state: 'Needs maintenance',
            components: [{ device: 'c0d1s0', state: 'Maintenance' }],
          },
        ],
      },
    ],
    hotSparePools: [],
    metadb: [
      { device: 'c0d0s7', flags: 'a m  p  luo' },
      { device: 'c0d0s7', flags: 'a    p  luo' },
      { device: 'c0d1s7', flags: 'a    p  luo' },
    ],
    ratePerSecond: 10,
    stalled: false,
  },
});

export const MPATH_WWID = '36005076801810523f8000000000000a1';

/**
 * A SAN host with one multipath map `mpatha` (dm-0) over four FC paths: `sdc` active, `sdd`
 * failed (its checker reports faulty, the device runs again), and `sde`, `sdf` ghosts of the
 * standby controller.
 */
export const multipathModel = (hostId: string): FakeModel => {
  const model = emptyModel(hostId);
  model.scsiHosts.host3 = { driver: 'qla2xxx', adapter: 'fc3' };
  model.scsiHosts.host4 = { driver: 'qla2xxx', adapter: 'fc4' };
  const lun = (name: string) => ({
    name,
    attached: name,
    exported: true,
    state: 'running',
    readable: true,
    sizeBytes: DISK_BYTES,
    wwid: MPATH_WWID,
    partitions: [],
    partitionsAt: 0,
    heldOpen: false,
  });
  model.luns['3:0:0:0'] = lun('sdc');
  model.luns['4:0:0:0'] = lun('sdd');
  model.luns['3:0:1:0'] = lun('sde');
  model.luns['4:0:1:0'] = lun('sdf');
  model.dm['dm-0'] = { uuid: `mpath-${MPATH_WWID}`, slaves: ['sdc', 'sdd', 'sde', 'sdf'] };
  model.multipath = [
    {
      name: 'mpatha',
      wwid: MPATH_WWID,
      dm: 'dm-0',
      vendor: 'IBM',
      product: '2145',
      paths: [
        { device: 'sdc', hctl: '3:0:0:0', dmState: 'active', checker: 'ready', online: 'running', group: 0 },
        { device: 'sdd', hctl: '4:0:0:0', dmState: 'failed', checker: 'faulty', online: 'running', group: 0 },
        { device: 'sde', hctl: '3:0:1:0', dmState: 'active', checker: 'ghost', online: 'running', group: 1 },
        { device: 'sdf', hctl: '4:0:1:0', dmState: 'active', checker: 'ghost', online: 'running', group: 1 },
      ],
    },
  ];
  return model;
};

/** The WWID of the NPIV client's data LUN. */
export const NPIV_WWID = '36005076801810523f8000000000000b2';

/**
 * A Linux client on one managed system with two VIOS: its root disk `sda` by vSCSI from vios1
 * (`host0`), and a SAN LUN mapped by dm-multipath (`mpatha`, dm-0) over four NPIV paths, two
 * through each VIOS's virtual FC adapter: `sdb` and `sdc` through vios1 (`host1`, ibmvfc), `sdd`
 * and `sde` through vios2 (`host2`), each pair on two target ports of the array.
 */
export const npivClientModel = (hostId: string): FakeModel => {
  const model = emptyModel(hostId);
  model.scsiHosts.host0 = {
    driver: 'ibmvscsi',
    adapter: '30000002',
    partitionName: 'vios1',
    partitionNumber: 1,
    slot: 2,
  };
  model.scsiHosts.host1 = {
    driver: 'ibmvfc',
    adapter: '30000004',
    partitionName: 'vios1',
    partitionNumber: 1,
    slot: 30,
    deviceName: 'fcs0',
    portLocCode: 'U78D3.001.WZS0ABC-P1-C6-T1',
    wwpn: 'c0507604f7c300a6',
  };
  model.scsiHosts.host2 = {
    driver: 'ibmvfc',
    adapter: '30000005',
    partitionName: 'vios2',
    partitionNumber: 2,
    slot: 30,
    deviceName: 'fcs0',
    portLocCode: 'U78D3.001.WZS0DEF-P1-C6-T1',
    wwpn: 'c0507604f7c300a8',
  };
  const lun = (name: string, extra: Partial<FakeModel['luns'][string]> = {}) => ({
    name,
    attached: name,
    exported: true,
    state: 'running',
    readable: true,
    sizeBytes: DISK_BYTES,
    partitions: [],
    partitionsAt: 0,
    heldOpen: false,
    ...extra,
  });
  model.luns['0:0:1:0'] = lun('sda', { partitions: [{ number: 1, sizeBytes: partitionBytes(1) }] });
  const san = { wwid: NPIV_WWID, vendor: 'IBM', product: '2145' };
  model.luns['1:0:0:0'] = lun('sdb', { ...san, targetPort: '500507680b21ac1c' });
  model.luns['1:0:1:0'] = lun('sdc', { ...san, targetPort: '500507680b31ac1c' });
  model.luns['2:0:0:0'] = lun('sdd', { ...san, targetPort: '500507680b22ac1c' });
  model.luns['2:0:1:0'] = lun('sde', { ...san, targetPort: '500507680b32ac1c' });
  model.dm['dm-0'] = { uuid: `mpath-${NPIV_WWID}`, slaves: ['sdb', 'sdc', 'sdd', 'sde'] };
  const path = (device: string, hctl: string, group: number) => ({
    device,
    hctl,
    dmState: 'active',
    checker: group === 0 ? 'ready' : 'ghost',
    online: 'running',
    group,
  });
  model.multipath = [
    {
      name: 'mpatha',
      wwid: NPIV_WWID,
      dm: 'dm-0',
      vendor: 'IBM',
      product: '2145',
      paths: [
        path('sdb', '1:0:0:0', 0),
        path('sdd', '2:0:0:0', 0),
        path('sdc', '1:0:1:0', 1),
        path('sde', '2:0:1:0', 1),
      ],
    },
  ];
  return model;
};
