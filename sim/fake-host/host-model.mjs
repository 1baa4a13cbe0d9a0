import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { deviceNodeExists, deviceReadable, locateDevice, partitionsShown } from './devices.mjs';
import { renderTree } from './render-tree.mjs';

/**
 * The fake host behind the executor's tests: a model of the machine (SCSI hosts and LUNs, md
 * arrays, multipath maps, SVM mirrors, mounts) kept as JSON in `<root>/.fake-host/model.json`,
 * with each partition's md superblock in its own file on the "medium"
 * (`<root>/.fake-host/superblocks/<address>-p<n>.json`: the data survives a delete and comes back
 * with the LUN, under whatever name the kernel gives it). After every change the model is
 * rendered into the tree the executor reads, laid out as Linux lays it out (render-tree.mjs); its
 * devices are named and located by devices.mjs.
 *
 * The fake programs (tools.mjs) and the fake kernel (the test helper's sysfs writer and clock)
 * share this module, so `mdadm --fail` and a write to `delete` change the same host. Every
 * command that changes the host, or tries to, is appended to `actions.jsonl` with its argument
 * vector; read-only commands go to `reads.jsonl`.
 */

/** The devices of the model (devices.mjs), for the fake tools and the tests. */
export { deviceNodeExists, deviceReadable, locateDevice, partitionsShown };

const STATE_DIR = '.fake-host';
export const DATA_OFFSET_BYTES = 1024 * 1024;

export const statePath = (root, ...parts) => join(root, STATE_DIR, ...parts);

export const loadModel = (root) => JSON.parse(readFileSync(statePath(root, 'model.json'), 'utf8'));

const writeAtomically = (path, text) => {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
};

/** Saves the model without rendering: for a change nothing in the tree shows. */
export const saveModelOnly = (root, model) => {
  latchReplicaErrors(model);
  writeAtomically(statePath(root, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);
};

/** Saves the model and renders the tree. */
export const saveModel = (root, model) => {
  latchReplicaErrors(model);
  writeAtomically(statePath(root, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);
  renderTree(root, model);
};

/** Loads, changes and saves the model. */
export const updateModel = (root, change) => {
  const model = loadModel(root);
  const result = change(model);
  saveModel(root, model);
  return result;
};

export const logAction = (root, entry) =>
  appendFileSync(statePath(root, 'actions.jsonl'), `${JSON.stringify(entry)}\n`);
export const logRead = (root, entry) =>
  appendFileSync(statePath(root, 'reads.jsonl'), `${JSON.stringify(entry)}\n`);

const readLines = (path) =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];
export const readActions = (root) => readLines(statePath(root, 'actions.jsonl'));
export const readReads = (root) => readLines(statePath(root, 'reads.jsonl'));

// ---------------------------------------------------------------------------------------------
// Names and superblocks

const superblockKey = (hctl, number) => `${hctl.replaceAll(':', '-')}-p${number}`;

export const superblockPath = (root, hctl, number) =>
  statePath(root, 'superblocks', `${superblockKey(hctl, number)}.json`);

export const readSuperblock = (root, model, device) => {
  const located = locateDevice(model, device);
  if (located === null || located.number === null) return null;
  const path = superblockPath(root, located.hctl, located.number);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
};

export const writeSuperblock = (root, model, device, superblock) => {
  const located = locateDevice(model, device);
  if (located === null || located.number === null) return;
  writeAtomically(
    superblockPath(root, located.hctl, located.number),
    `${JSON.stringify(superblock, null, 2)}\n`,
  );
};

/** Blanks a partition's md superblock on its medium (`mdadm --zero-superblock`). */
export const clearSuperblock = (root, model, device) => {
  const located = locateDevice(model, device);
  if (located === null || located.number === null) return;
  rmSync(superblockPath(root, located.hctl, located.number), { force: true });
};

export const partitionSize = (model, device) => {
  const located = locateDevice(model, device);
  if (located === null || located.number === null) return null;
  return located.lun.partitions.find((partition) => partition.number === located.number)?.sizeBytes ?? null;
};

// ---------------------------------------------------------------------------------------------
// md

const WORKING = new Set(['in_sync', 'rebuilding', 'spare']);

/** A new event on an array: its count goes up and every working, reachable member's superblock follows. */
export const bumpEvents = (root, model, name) => {
  const array = model.arrays[name];
  array.events += 1;
  for (const member of array.members) {
    if (!WORKING.has(member.state) || !deviceReadable(model, member.device)) continue;
    writeSuperblock(root, model, member.device, superblockFor(array, member));
  }
};

export const superblockFor = (array, member) => ({
  uuid: array.uuid,
  name: array.name,
  level: array.level,
  raidDevices: array.raidDevices,
  events: array.events,
  role: member.state === 'spare' ? 'spare' : 'active',
  slot: member.state === 'spare' ? null : member.slot,
  bitmap: array.bitmap,
});

export const inSyncDevices = (array) =>
  array.members.filter((member) => member.state === 'in_sync').map((member) => member.device);

/** The kernel's `speed_limit_min` default (`/proc/sys/dev/raid/speed_limit_min`): 1,000 KiB/s per device. */
export const SPEED_LIMIT_MIN_KIB = 1000;

/**
 * How often the kernel moves `sync_completed` (`curr_resync_completed` in `md_do_sync`): when the
 * position is more than 1/16 of the way past it, or `UPDATE_FREQUENCY` (five minutes) after the
 * last move, whichever comes first.
 */
export const SYNC_CHECKPOINT_MS = 5 * 60 * 1000;

/** The disks an array's members sit on: two arrays on one disk resync one after the other. */
const arrayDisks = (model, array) =>
  new Set(
    array.members.flatMap((member) => {
      const located = locateDevice(model, member.device);
      return located === null ? [] : [located.hctl];
    }),
  );

/**
 * Whether a sync of `name` must wait (`resync=DELAYED`): another array sharing one of its disks
 * runs its own sync. The kernel's `md_do_sync` lets one sync run per set of devices
 * (`match_mddev_units`) and parks the others in `curr_resync` 1 or 2.
 */
const syncWaitsBehind = (model, name) => {
  const disks = arrayDisks(model, model.arrays[name]);
  for (const [other, array] of Object.entries(model.arrays)) {
    if (other === name || array.recovery === null || array.recovery.delayed === true) continue;
    if ([...arrayDisks(model, array)].some((disk) => disks.has(disk))) return other;
  }
  return null;
};

/** An array's sync size in 512-byte sectors (`sync_completed`'s total for a raid1 recovery: a member's size). */
export const syncTotalSectors = (array) => array.sizeKiB * 2;

/** Percent per second a recovery runs at: the array's fixed speed in KiB/s when set, else its rate. */
const percentPerSecond = (array, recovery) =>
  array.syncSpeedKiB === undefined ? recovery.rate : (array.syncSpeedKiB / array.sizeKiB) * 100;

const freeSlot = (array) => {
  for (let slot = 0; slot < array.raidDevices; slot += 1) {
    if (!array.members.some((member) => member.slot === slot && member.state !== 'spare')) return slot;
  }
  return null;
};

/** Adds a member to an array (as the kernel does after `--add` or `--re-add`). */
export const addMember = (root, model, name, device, { reAdd }) => {
  const array = model.arrays[name];
  const slot = freeSlot(array);
  const member = {
    device,
    descriptor: array.nextDescriptor,
    slot,
    state: slot === null ? 'spare' : 'rebuilding',
  };
  array.nextDescriptor += 1;
  array.members.push(member);
  if (slot !== null && array.recovery === null) {
    array.recovery = {
      device,
      progress: 0,
      rate: reAdd ? array.reAddRatePerSecond : array.ratePerSecond,
      completedSectors: 0,
      checkpointMs: model.simMs,
      delayed: syncWaitsBehind(model, name) !== null,
    };
  }
  bumpEvents(root, model, name);
  return member;
};

// ---------------------------------------------------------------------------------------------
// The kernel: SCSI delete and scan, time passing

/** The disk at a SCSI address goes away (a write to its `delete`). */
export const scsiDelete = (root, model, hctl) => {
  const lun = model.luns[hctl];
  if (lun === undefined || lun.attached === null) return false;
  const disk = lun.attached;
  for (const [name, array] of Object.entries(model.arrays)) {
    let changed = false;
    for (const member of array.members) {
      if (member.device.startsWith(disk) && member.state !== 'faulty') {
        member.state = 'faulty';
        changed = true;
      }
    }
    if (changed) bumpEvents(root, model, name);
  }
  lun.attached = null;
  return true;
};

/**
 * A write to a SCSI device's `state` (`echo running > /sys/class/scsi_device/<hctl>/device/state`),
 * as `store_state_field` (drivers/scsi/scsi_sysfs.c, Linux 5.16 and later) takes it: the text must
 * be a state name followed by a newline (`buf[len] == '\n'`: `echo` writes one, a bare `running`
 * is EINVAL), only `running` and `offline` may be written, `running` over `running` changes
 * nothing, and `scsi_device_set_state` refuses the moves it does not allow (EINVAL). Setting an
 * offline device running restarts its queue and rescans it; whether it then reads depends on its
 * target (`readable`, `hangs`). Returns the errno the write fails with, or null.
 */
export const scsiSetState = (model, hctl, text) => {
  const lun = model.luns[hctl];
  if (lun === undefined || lun.attached === null) return 'ENOENT';
  const wanted = /^(running|offline)\n/.exec(text)?.[1];
  if (wanted === undefined) return 'EINVAL';
  if (wanted === 'running') {
    if (lun.state === 'running') return null;
    if (!['offline', 'transport-offline', 'blocked', 'quiesce', 'created'].includes(lun.state))
      return 'EINVAL';
  } else if (!['running', 'blocked', 'quiesce', 'created', 'transport-offline'].includes(lun.state)) {
    return 'EINVAL';
  }
  lun.state = wanted;
  return null;
};

/** A rescan of one LUN (`<C> <T> <L>` written to a SCSI host's `scan`): the LUN attaches if its server exports it. */
export const scsiScan = (model, host, channel, target, lun) => {
  const hctl = `${host.slice('host'.length)}:${channel}:${target}:${lun}`;
  const entry = model.luns[hctl];
  if (entry === undefined || !entry.exported || entry.attached !== null) return false;
  entry.attached = entry.comesBackAs ?? entry.name;
  entry.name = entry.attached;
  delete entry.comesBackAs;
  entry.state = 'running';
  entry.readable = true;
  entry.partitionsAt = model.simMs + (entry.partitionDelayMs ?? 0);
  return true;
};

/** Time passes on the host: resyncs progress, late partition nodes appear. True when the tree changes. */
export const advance = (root, model, ms) => {
  const before = model.simMs;
  model.simMs += ms;
  let changed = Object.values(model.luns).some(
    (lun) => lun.attached !== null && lun.partitionsAt > before && lun.partitionsAt <= model.simMs,
  );
  for (const [name, array] of Object.entries(model.arrays)) {
    const recovery = array.recovery;
    if (recovery === null || array.stalled) continue;
    if (recovery.delayed === true) {
      // Queued behind another array on the same disks: it starts when that one has finished.
      if (syncWaitsBehind(model, name) !== null) continue;
      recovery.delayed = false;
      recovery.checkpointMs = model.simMs;
    }
    changed = true;
    recovery.progress = Math.min(100, recovery.progress + (percentPerSecond(array, recovery) * ms) / 1000);
    const total = syncTotalSectors(array);
    const live = Math.floor((total * recovery.progress) / 100);
    const completed = recovery.completedSectors ?? 0;
    if (
      live - completed > Math.floor(total / 16) ||
      model.simMs - (recovery.checkpointMs ?? 0) >= SYNC_CHECKPOINT_MS
    ) {
      recovery.completedSectors = live;
      recovery.checkpointMs = model.simMs;
    }
    if (recovery.progress >= 100) {
      const member = array.members.find((candidate) => candidate.device === recovery.device);
      if (member !== undefined) member.state = 'in_sync';
      array.recovery = null;
      bumpEvents(root, model, name);
    }
  }
  for (const mirror of model.svm?.mirrors ?? []) {
    if (mirror.resync === null || mirror.resync === undefined || model.svm.stalled) continue;
    changed = true;
    mirror.resync = Math.min(100, mirror.resync + (model.svm.ratePerSecond * ms) / 1000);
    if (mirror.resync >= 100) {
      mirror.resync = null;
      for (const submirror of mirror.submirrors) {
        for (const component of submirror.components) {
          if (component.state === 'Resyncing') component.state = 'Okay';
        }
        if (submirror.components.every((component) => component.state === 'Okay')) submirror.state = 'Okay';
      }
    }
  }
  return changed;
};

// ---------------------------------------------------------------------------------------------
// SVM state database

/** The replica flags of an error (`MDDB_F_EREAD|EWRITE|TOOSMALL|EFMT|EDATA|EMASTER`, as meta_db_detach counts them). */
export const REPLICA_ERROR_FLAGS = /[RWSFDM]/;

/** The disk of a Solaris slice (`c0d1s7` → `c0d1`). */
export const sliceDisk = (slice) => slice.replace(/s\d+$/, '');

/**
 * SVM commits its state database to every replica at each configuration change (a component going
 * to Maintenance is one): a replica on a disk that does not answer takes a write error (`W`) and is
 * no longer active, up to date or the master. The flags are latched: they stay when the disk comes
 * back, until `metadb -d` and `metadb -a` re-create the replica (fake-svm-tools.mjs).
 */
export const latchReplicaErrors = (model) => {
  const replicas = model.svm?.metadb ?? [];
  let lostMaster = false;
  for (const replica of replicas) {
    const disk = model.solarisDisks?.[sliceDisk(replica.device)];
    if (disk === undefined || disk.readable || REPLICA_ERROR_FLAGS.test(replica.flags)) continue;
    lostMaster ||= replica.flags.includes('m');
    replica.flags = `W${replica.flags.replace(/[amuo\s]/g, '')}`;
  }
  if (!lostMaster || replicas.some((replica) => replica.flags.includes('m'))) return;
  const next = replicas.find(
    (replica) => replica.flags.includes('a') && !REPLICA_ERROR_FLAGS.test(replica.flags),
  );
  if (next !== undefined) next.flags = `${next.flags}m`;
};
