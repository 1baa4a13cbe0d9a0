import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * The fake host behind the executor's tests: a model of the machine (SCSI hosts and LUNs, md
 * arrays, multipath maps, SVM mirrors, mounts) kept as JSON in `<root>/.fake-host/model.json`,
 * with each partition's md superblock in its own file on the "medium"
 * (`<root>/.fake-host/superblocks/<address>-p<n>.json`: the data survives a delete and comes back
 * with the LUN, under whatever name the kernel gives it). After every change the model is
 * rendered into the tree the executor reads, laid out as Linux lays it out: `proc/mdstat`,
 * `proc/self/mountinfo`, `proc/swaps`, `proc/stat`, `sys/block/<disk>` with its partitions,
 * sizes, device numbers and holders, `sys/class/scsi_device/<hctl>/device` and
 * `sys/class/scsi_host/<host>` (ibmvscsi, with the hosting partition and the location code),
 * `sys/block/<md>/md/dev-*`, and `dev/` nodes (a readable device is a file of data; an unreadable
 * one a directory, whose read fails as an offline disk's does).
 *
 * The fake programs (tools.mjs) and the fake kernel (the test helper's sysfs writer and clock)
 * share this module, so `mdadm --fail` and a write to `delete` change the same host. Every
 * command that changes the host, or tries to, is appended to `actions.jsonl` with its argument
 * vector; read-only commands go to `reads.jsonl`.
 */

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
export const saveModelOnly = (root, model) =>
  writeAtomically(statePath(root, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);

/** Saves the model and renders the tree. */
export const saveModel = (root, model) => {
  writeAtomically(statePath(root, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);
  render(root, model);
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

/** The LUN and partition number behind a device name, or null; `partitionsShown` says whether its node exists. */
export const locateDevice = (model, device) => {
  for (const [hctl, lun] of Object.entries(model.luns)) {
    if (lun.attached === null) continue;
    if (device === lun.attached) return { hctl, lun, number: null };
    if (device.startsWith(lun.attached)) {
      const number = Number(device.slice(lun.attached.length));
      if (Number.isInteger(number) && lun.partitions.some((partition) => partition.number === number)) {
        return { hctl, lun, number };
      }
    }
  }
  return null;
};

export const partitionsShown = (model, lun) => model.simMs >= lun.partitionsAt;

/** Whether `/dev/<device>` exists now. */
export const deviceNodeExists = (model, device) => {
  const located = locateDevice(model, device);
  if (located === null) return false;
  return located.number === null || partitionsShown(model, located.lun);
};

export const deviceReadable = (model, device) => {
  const located = locateDevice(model, device);
  return (
    located !== null &&
    deviceNodeExists(model, device) &&
    located.lun.readable &&
    located.lun.state === 'running'
  );
};

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
    array.recovery = { device, progress: 0, rate: reAdd ? array.reAddRatePerSecond : array.ratePerSecond };
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
    changed = true;
    recovery.progress = Math.min(100, recovery.progress + (recovery.rate * ms) / 1000);
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
// Rendering

const DEVICE_BYTES = Buffer.alloc(4096, 0xa5);

const file = (root, path, text) => {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
};

const folder = (root, path) => mkdirSync(join(root, path), { recursive: true });

const link = (root, path, target) => {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  symlinkSync(relative(dirname(full), join(root, target)), full);
};

/** Where `wipefs` finds each signature a fake partition may carry (libblkid's offsets). */
const SIGNATURES = {
  xfs: [0, Buffer.from('XFSB', 'latin1')],
  ext4: [1080, Buffer.from([0x53, 0xef])],
  swap: [4086, Buffer.from('SWAPSPACE2', 'latin1')],
  LVM2_member: [512, Buffer.from('LABELONE', 'latin1')],
};

const contentWith = (signature) => {
  if (signature === undefined) return DEVICE_BYTES;
  const [offset, magic] = SIGNATURES[signature];
  const bytes = Buffer.alloc(8192, 0xa5);
  magic.copy(bytes, offset);
  return bytes;
};

/** A device node: data when readable, a directory (read fails with EISDIR) when not. */
const node = (root, path, readable, signature) => {
  if (readable) file(root, path, contentWith(signature));
  else folder(root, path);
};

/** `sd` letters to the minor numbers the sd driver gives: sda 0, sdb 16, ... */
const minorOf = (disk) => {
  const letters = disk.replace(/^sd/, '');
  let index = 0;
  for (const letter of letters) index = index * 26 + (letter.charCodeAt(0) - 96);
  return (index - 1) * 16;
};

const mdstatText = (model) => {
  const lines = ['Personalities : [raid1] [raid0] [raid10] [raid6] [raid5] [raid4] '];
  for (const [name, array] of Object.entries(model.arrays).sort()) {
    const members = [...array.members]
      .sort((left, right) => right.descriptor - left.descriptor)
      .map((member) => {
        const flag = member.state === 'faulty' ? '(F)' : member.state === 'spare' ? '(S)' : '';
        return `${member.device}[${member.descriptor}]${flag}`;
      });
    lines.push(`${name} : active ${array.level} ${members.join(' ')}`);
    const slots = Array.from({ length: array.raidDevices }, (_, slot) =>
      array.members.some((member) => member.slot === slot && member.state === 'in_sync') ? 'U' : '_',
    ).join('');
    const up = [...slots].filter((slot) => slot === 'U').length;
    lines.push(
      `      ${array.sizeKiB} blocks super ${array.metadata} [${array.raidDevices}/${up}] [${slots}]`,
    );
    if (array.recovery !== null) {
      const done = Math.floor((array.sizeKiB * array.recovery.progress) / 100);
      const bar = Math.floor(array.recovery.progress / 5);
      lines.push(
        `      [${'='.repeat(bar)}>${'.'.repeat(Math.max(0, 19 - bar))}]  recovery = ${array.recovery.progress.toFixed(1)}% (${done}/${array.sizeKiB}) finish=${((100 - array.recovery.progress) / 10).toFixed(1)}min speed=204800K/sec`,
      );
    }
    if (array.bitmap) lines.push('      bitmap: 1/1 pages [4KB], 65536KB chunk');
    lines.push('      ');
  }
  lines.push('unused devices: <none>', '');
  return lines.join('\n');
};

const escapeMount = (text) => text.replace(/ /g, '\\040');

const render = (root, model) => {
  for (const top of ['proc', 'sys', 'dev']) rmSync(join(root, top), { recursive: true, force: true });
  // A Solaris guest has no mdstat; the scan of a tree tells Solaris by its SVM folder.
  if (model.platform === 'solaris') folder(root, 'sos_commands/svm');
  else file(root, 'proc/mdstat', mdstatText(model));
  file(root, 'proc/stat', `cpu  1 2 3 4 5 6 7 0 0 0\nbtime ${model.btime}\nprocesses 1234\n`);
  file(root, 'proc/sys/kernel/random/boot_id', `${model.bootId}\n`);
  file(root, 'proc/device-tree/ibm,partition-name', `${model.ownPartition}\0`);

  const numbers = new Map();
  const mountLines = [];
  const procMounts = [];
  let mountId = 30;
  for (const mount of model.mounts) {
    const located = locateDevice(model, mount.device);
    const minor = located === null ? 0 : minorOf(located.lun.attached) + (located.number ?? 0);
    mountId += 1;
    mountLines.push(
      `${mountId} 1 8:${minor} / ${escapeMount(mount.mountPoint)} rw,relatime shared:${mountId} - ${mount.fstype} /dev/${mount.device} rw`,
    );
    procMounts.push(`/dev/${mount.device} ${escapeMount(mount.mountPoint)} ${mount.fstype} rw,relatime 0 0`);
  }
  file(root, 'proc/self/mountinfo', mountLines.length === 0 ? '' : `${mountLines.join('\n')}\n`);
  file(root, 'proc/mounts', procMounts.length === 0 ? '' : `${procMounts.join('\n')}\n`);
  file(
    root,
    'proc/swaps',
    `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n${model.swaps.map((swap) => `/dev/${swap}                               partition\t2097148\t\t0\t\t-2\n`).join('')}`,
  );

  const linux = Object.keys(model.scsiHosts).length > 0 || Object.keys(model.luns).length > 0;
  if (linux) folder(root, 'sys/block');
  for (const [host, info] of Object.entries(model.scsiHosts)) {
    const base = `sys/class/scsi_host/${host}`;
    file(root, `${base}/proc_name`, `${info.driver}\n`);
    file(root, `${base}/scan`, '');
    if (info.partitionName !== undefined) {
      file(root, `${base}/partition_name`, `${info.partitionName}\n`);
      file(root, `${base}/partition_number`, `${info.partitionNumber}\n`);
      file(root, `${base}/vhost_loc`, `${model.system}-V${info.partitionNumber}-C${info.slot}\n`);
    }
    folder(root, `sys/devices/vio/${info.adapter}/${host}`);
  }

  for (const [hctl, lun] of Object.entries(model.luns)) {
    if (lun.attached === null) continue;
    const [h, c, t] = hctl.split(':');
    const host = `host${h}`;
    const adapter = model.scsiHosts[host]?.adapter ?? `3000000${h}`;
    const device = `sys/devices/vio/${adapter}/${host}/target${h}:${c}:${t}/${hctl}`;
    const disk = lun.attached;
    file(root, `${device}/state`, `${lun.state}\n`);
    file(root, `${device}/vendor`, 'AIX     \n');
    file(root, `${device}/model`, 'VDASD           \n');
    file(root, `${device}/ioerr_cnt`, '0x0\n');
    file(root, `${device}/delete`, '');
    if (lun.wwid !== undefined) file(root, `${device}/wwid`, `${lun.wwid}\n`);
    folder(root, `${device}/block/${disk}`);
    link(root, `sys/class/scsi_device/${hctl}/device`, device);
    link(root, `sys/block/${disk}/device`, device);
    const minor = minorOf(disk);
    numbers.set(disk, `8:${minor}`);
    file(root, `sys/block/${disk}/size`, `${Math.floor(lun.sizeBytes / 512)}\n`);
    file(root, `sys/block/${disk}/dev`, `8:${minor}\n`);
    folder(root, `sys/block/${disk}/holders`);
    node(root, `dev/${disk}`, lun.readable && lun.state === 'running');
    if (!partitionsShown(model, lun)) continue;
    for (const partition of lun.partitions) {
      const name = `${disk}${partition.number}`;
      const base = `sys/block/${disk}/${name}`;
      file(root, `${base}/partition`, `${partition.number}\n`);
      file(root, `${base}/size`, `${Math.floor(partition.sizeBytes / 512)}\n`);
      file(root, `${base}/dev`, `8:${minor + partition.number}\n`);
      folder(root, `${base}/holders`);
      node(root, `dev/${name}`, lun.readable && lun.state === 'running', partition.signature);
    }
  }

  const holderPath = (device) => {
    const located = locateDevice(model, device);
    if (located === null || !deviceNodeExists(model, device) || model.noHolders === true) return null;
    return located.number === null
      ? `sys/block/${located.lun.attached}/holders`
      : `sys/block/${located.lun.attached}/${device}/holders`;
  };

  for (const [name, array] of Object.entries(model.arrays)) {
    const base = `sys/block/${name}/md`;
    file(root, `${base}/level`, `${array.level}\n`);
    file(root, `${base}/metadata_version`, `${array.metadata}\n`);
    file(root, `${base}/sync_action`, array.recovery === null ? 'idle\n' : 'recover\n');
    for (const member of array.members) {
      const state = member.state === 'in_sync' ? 'in_sync' : member.state === 'faulty' ? 'faulty' : 'spare';
      file(root, `${base}/dev-${member.device}/state`, `${state}\n`);
      file(
        root,
        `${base}/dev-${member.device}/slot`,
        `${member.slot === null || member.state === 'faulty' ? 'none' : member.slot}\n`,
      );
      const holders = holderPath(member.device);
      if (holders !== null) file(root, `${holders}/${name}`, '');
    }
  }

  for (const [dm, info] of Object.entries(model.dm)) {
    file(root, `sys/block/${dm}/dm/uuid`, `${info.uuid}\n`);
    file(root, `sys/block/${dm}/dev`, `253:${dm.slice(3)}\n`);
    for (const slave of info.slaves) {
      file(root, `sys/block/${dm}/slaves/${slave}`, '');
      const holders = holderPath(slave);
      if (holders !== null) file(root, `${holders}/${dm}`, '');
    }
  }
  for (const [device, holders] of Object.entries(model.extraHolders)) {
    const path = holderPath(device);
    if (path === null) continue;
    for (const holder of holders) file(root, `${path}/${holder}`, '');
  }
  for (const [device, info] of Object.entries(model.solarisDisks ?? {})) {
    node(root, `dev/rdsk/${device}s2`, info.readable);
  }
};
