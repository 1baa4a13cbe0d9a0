import { deviceMinor } from './devices.mjs';
import {
  addMember,
  bumpEvents,
  clearSuperblock,
  DATA_OFFSET_BYTES,
  deviceNodeExists,
  deviceReadable,
  inSyncDevices,
  loadModel,
  logAction,
  logRead,
  partitionSize,
  readSuperblock,
  saveModel,
} from './host-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake `mdadm` (tools.mjs), copying mdadm 4.2 (`Manage.c`, `Kill.c`, `Detail.c`) over the
 * kernel's md driver, or the mdadm of 3.1.5 to 3.2.3 when the model says so (`mdadmVersion`):
 * `--detail` and `--examine` print what the real tool prints (the formats the probes' parsers
 * read); `--fail`, `--remove`, `--add`, `--re-add` and `--zero-superblock` change the host model
 * as the real tool and the kernel would, with the real refusals:
 *
 * - `--re-add` of a member the kernel cannot take back incrementally: on an array without a
 *   write-intent bitmap every member that missed events (`super_1_validate` leaves its `raid_disk`
 *   at -1, so `ADD_NEW_DISK` fails with EINVAL), with a bitmap one older than its last clear. Exit 1,
 *   "mdadm: --re-add for /dev/sdb1 to /dev/md0 is not possible".
 * - `--add` of such a member (its superblock names this array, active): mdadm 4.x tries the re-add,
 *   and when the kernel refuses it adds the device as a new one, which the kernel rebuilds in full
 *   ("mdadm: added /dev/sdb1", exit 0). mdadm 3.1.5 to 3.2.3 refused instead, exit 1 (the refusal
 *   was dropped in 3.2.4, commit 0a999759 "Relax restrictions on when --add is permitted"):
 *   "mdadm: /dev/sdb1 reports being an active member for /dev/md0, but a --re-add fails." /
 *   "mdadm: not performing --add as that would convert /dev/sdb1 in to a spare." /
 *   "mdadm: To make this a spare, use "mdadm --zero-superblock /dev/sdb1" first."
 * - `--zero-superblock` (`Kill`): opens the device `O_EXCL`, so a member of a running array, a
 *   mounted or swap partition, or one a device-mapper target holds is refused with exit 2, "mdadm:
 *   Couldn't open /dev/sdb1 for write - not zeroing"; a device with no superblock prints "mdadm:
 *   Unrecognised md component device - /dev/sdb1" and still exits 0; a superblock is zeroed
 *   silently, exit 0. The next `--add` then rebuilds the device in full, in every version.
 * - failing the last in-sync member (EBUSY from the kernel), a device too small.
 * - `-If <name>` (`--incremental --fail`), what udev's md rule runs when a disk's partition goes
 *   away (incrementalRemove below): the member is failed and removed, its superblock left naming
 *   the array, before any plan runs.
 *
 * Like the real tool it also does what the executor must never ask for: `--add` over another
 * array's superblock or over a newer stale half, `--zero-superblock` of any device not in use.
 */

/** The mdadm the fake copies when the model names none. */
export const DEFAULT_MDADM_VERSION = '4.2';

const versionParts = (version) => version.split('.').map((part) => Number.parseInt(part, 10) || 0);

/** Whether `version` is at least `floor` (`3.2.4` ≥ `3.2`). */
const atLeast = (version, floor) => {
  const left = versionParts(version);
  const right = versionParts(floor);
  for (let index = 0; index < Math.max(left.length, right.length); index += 1) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference > 0;
  }
  return true;
};

/** mdadm 3.1.5 to 3.2.3 refuse to `--add` a device that reports being an active member. */
const refusesAddOfActiveMember = (model) => {
  const version = model.mdadmVersion ?? DEFAULT_MDADM_VERSION;
  return atLeast(version, '3.1.5') && !atLeast(version, '3.2.4');
};

const pad = (text, width) => String(text).padStart(width);

const detailText = (model, name) => {
  const array = model.arrays[name];
  const inSync = array.members.filter((member) => member.state === 'in_sync').length;
  const working = array.members.filter((member) => member.state !== 'faulty').length;
  const failed = array.members.filter((member) => member.state === 'faulty').length;
  const spares = array.members.filter(
    (member) => member.state === 'spare' || member.state === 'rebuilding',
  ).length;
  const state = ['clean'];
  if (inSync < array.raidDevices) state.push('degraded');
  if (array.recovery !== null) state.push('recovering');
  const lines = [
    `/dev/${name}:`,
    `           Version : ${array.metadata}`,
    '     Creation Time : Tue Mar 14 10:22:31 2023',
    `        Raid Level : ${array.level}`,
    `        Array Size : ${array.sizeKiB} (${(array.sizeKiB / 1048576).toFixed(2)} GiB)`,
    `     Used Dev Size : ${array.sizeKiB} (${(array.sizeKiB / 1048576).toFixed(2)} GiB)`,
    `      Raid Devices : ${array.raidDevices}`,
    `     Total Devices : ${array.members.length}`,
    '       Persistence : Superblock is persistent',
    '',
    ...(array.bitmap ? ['     Intent Bitmap : Internal', ''] : []),
    '       Update Time : Sun Nov 22 03:12:40 2026',
    `             State : ${state.join(', ')} `,
    `    Active Devices : ${inSync}`,
    `   Working Devices : ${working}`,
    `    Failed Devices : ${failed}`,
    `     Spare Devices : ${spares}`,
    '',
    // mdadm 4.0 added the line.
    ...(atLeast(model.mdadmVersion ?? DEFAULT_MDADM_VERSION, '4.0')
      ? [`Consistency Policy : ${array.bitmap ? 'bitmap' : 'resync'}`, '']
      : []),
    ...(array.recovery === null
      ? []
      : [`    Rebuild Status : ${Math.floor(array.recovery.progress)}% complete`, '']),
    `              Name : ${array.name}  (local to host ${model.ownPartition})`,
    `              UUID : ${array.uuid}`,
    `            Events : ${array.events}`,
    '',
    '    Number   Major   Minor   RaidDevice State',
  ];
  for (let slot = 0; slot < array.raidDevices; slot += 1) {
    const member = array.members.find(
      (candidate) =>
        candidate.slot === slot && (candidate.state === 'in_sync' || candidate.state === 'rebuilding'),
    );
    if (member === undefined) {
      lines.push(`       -       0        0     ${pad(slot, 4)}      removed`);
      continue;
    }
    const words = member.state === 'in_sync' ? 'active sync' : 'spare rebuilding';
    lines.push(
      `    ${pad(member.descriptor, 4)}       8     ${pad(deviceMinor(model, member.device), 4)}     ${pad(slot, 4)}      ${words}   /dev/${member.device}`,
    );
  }
  const others = array.members.filter((member) => member.state === 'faulty' || member.state === 'spare');
  if (others.length > 0) lines.push('');
  for (const member of others) {
    lines.push(
      `    ${pad(member.descriptor, 4)}       8     ${pad(deviceMinor(model, member.device), 4)}        -      ${member.state}   /dev/${member.device}`,
    );
  }
  return `${lines.join('\n')}\n`;
};

const examineText = (device, superblock, sizeBytes) => {
  const role = superblock.role === 'active' ? `Active device ${superblock.slot}` : 'spare';
  return [
    `/dev/${device}:`,
    '          Magic : a92b4efc',
    '        Version : 1.2',
    `    Feature Map : ${superblock.bitmap ? '0x1' : '0x0'}`,
    `     Array UUID : ${superblock.uuid}`,
    `           Name : ${superblock.name}`,
    '  Creation Time : Tue Mar 14 10:22:31 2023',
    `     Raid Level : ${superblock.level}`,
    `   Raid Devices : ${superblock.raidDevices}`,
    '',
    ` Avail Dev Size : ${Math.floor(((sizeBytes ?? 0) - DATA_OFFSET_BYTES) / 512)} sectors`,
    `    Data Offset : ${DATA_OFFSET_BYTES / 512} sectors`,
    '   Super Offset : 8 sectors',
    '          State : clean',
    '    Device UUID : 5f3e2d1c:0b9a8f7e:6d5c4b3a:29180706',
    '',
    ...(superblock.bitmap ? ['Internal Bitmap : 8 sectors from superblock'] : []),
    '    Update Time : Sun Nov 22 03:02:16 2026',
    '       Checksum : 4c3b2a19 - correct',
    `         Events : ${superblock.events}`,
    '',
    '',
    `   Device Role : ${role}`,
    "   Array State : AA ('A' == active, '.' == missing, 'R' == replacing)",
    '',
  ].join('\n');
};

const MANAGE_OPS = new Map([
  ['--fail', 'fail'],
  ['-f', 'fail'],
  ['--set-faulty', 'fail'],
  ['--remove', 'remove'],
  ['-r', 'remove'],
  ['--add', 'add'],
  ['-a', 'add'],
  ['--re-add', 're-add'],
]);

/** `mdadm` with its argument vector, on the host at `root`. */
export const mdadm = (root, argv) => {
  const model = loadModel(root);
  const [first, ...rest] = argv;
  if (first === '--detail' || first === '-D') {
    logRead(root, { argv: ['mdadm', ...argv] });
    const name = (rest[0] ?? '').replace(/^\/dev\//, '');
    if (model.arrays[name] === undefined)
      return toolResult(1, '', `mdadm: cannot open /dev/${name}: No such file or directory\n`);
    return toolResult(0, detailText(model, name));
  }
  if (first === '--examine' || first === '-E') {
    logRead(root, { argv: ['mdadm', ...argv] });
    let stdout = '';
    let stderr = '';
    let code = 0;
    for (const path of rest) {
      const device = path.replace(/^\/dev\//, '');
      if (!deviceNodeExists(model, device)) {
        stderr += `mdadm: cannot open ${path}: No such file or directory\n`;
        code = 1;
        continue;
      }
      const superblock = deviceReadable(model, device) ? readSuperblock(root, model, device) : null;
      if (superblock === null) {
        // An unreadable device looks blank to mdadm too: the caller must know it could read it.
        stderr += `mdadm: No md superblock detected on ${path}.\n`;
        code = 1;
        continue;
      }
      stdout += examineText(device, superblock, partitionSize(model, device));
    }
    return toolResult(code, stdout, stderr);
  }
  if (first === '--zero-superblock') return zeroSuperblock(root, model, rest);
  if (
    first === '-If' ||
    ((first === '--incremental' || first === '-I') && ['--fail', '-f'].includes(rest[0]))
  ) {
    return incrementalRemove(root, model, first === '-If' ? rest : rest.slice(1), argv);
  }
  const args = first === '--manage' ? rest : argv;
  const name = (args[0] ?? '').replace(/^\/dev\//, '');
  const op = MANAGE_OPS.get(args[1] ?? '');
  const targetPath = args[2] ?? '';
  const target = targetPath.replace(/^\/dev\//, '');
  const array = model.arrays[name];
  const superblock =
    array === undefined ? null : deviceReadable(model, target) ? readSuperblock(root, model, target) : null;
  const onMedium = array === undefined ? null : readSuperblock(root, model, target);
  logAction(root, {
    argv: ['mdadm', ...argv],
    before:
      array === undefined
        ? null
        : {
            array: name,
            uuid: array.uuid,
            events: array.events,
            inSync: inSyncDevices(array),
            member: array.members.find((member) => member.device === target)?.state ?? null,
            // What the medium holds, readable or not: the property tests judge by the truth.
            onMedium: onMedium === null ? null : { uuid: onMedium.uuid, events: onMedium.events },
          },
  });
  if (op === undefined || array === undefined) {
    return toolResult(
      1,
      '',
      `mdadm: ${array === undefined ? `/dev/${name} does not appear to be an md device` : 'unknown operation'}\n`,
    );
  }
  const done = (code, message) => {
    saveModel(root, model);
    return toolResult(code, '', message);
  };

  if (op === 'remove' && target === 'detached') {
    const detached = array.members.filter((member) => !deviceNodeExists(model, member.device));
    const messages = [];
    for (const member of detached) {
      if (member.state !== 'faulty' && member.state !== 'spare') {
        messages.push(`mdadm: hot remove failed for ${member.device}: Device or resource busy`);
        continue;
      }
      array.members = array.members.filter((candidate) => candidate !== member);
      messages.push(`mdadm: hot removed ${member.device} from /dev/${name}`);
    }
    if (messages.length > 0) bumpEvents(root, model, name);
    return done(messages.some((message) => message.includes('failed')) ? 1 : 0, `${messages.join('\n')}\n`);
  }

  const member = array.members.find((candidate) => candidate.device === target);
  if (op === 'fail') {
    if (member === undefined)
      return done(1, `mdadm: set device faulty failed for ${targetPath}:  No such device\n`);
    if (member.state === 'in_sync' && inSyncDevices(array).length === 1) {
      // raid1 refuses to fail its last working device.
      return done(1, `mdadm: set device faulty failed for ${targetPath}:  Device or resource busy\n`);
    }
    if (array.recovery?.device === target) array.recovery = null;
    member.state = 'faulty';
    bumpEvents(root, model, name);
    return done(0, `mdadm: set ${targetPath} faulty in /dev/${name}\n`);
  }
  if (op === 'remove') {
    if (member === undefined) {
      return done(1, `mdadm: hot remove failed for ${targetPath}: No such device or address\n`);
    }
    if (!deviceNodeExists(model, target)) {
      return done(1, `mdadm: Cannot find ${targetPath}: No such file or directory\n`);
    }
    if (member.state !== 'faulty' && member.state !== 'spare') {
      return done(1, `mdadm: hot remove failed for ${targetPath}: Device or resource busy\n`);
    }
    array.members = array.members.filter((candidate) => candidate !== member);
    bumpEvents(root, model, name);
    return done(0, `mdadm: hot removed ${targetPath} from /dev/${name}\n`);
  }

  // --add and --re-add
  if (!deviceNodeExists(model, target))
    return done(1, `mdadm: Cannot find ${targetPath}: No such file or directory\n`);
  if (member !== undefined) return done(1, `mdadm: Cannot open ${targetPath}: Device or resource busy\n`);
  if (!deviceReadable(model, target)) return done(1, `mdadm: cannot load array metadata from /dev/${name}\n`);
  const size = partitionSize(model, target) ?? 0;
  if (size < array.sizeKiB * 1024 + DATA_OFFSET_BYTES) {
    return done(1, `mdadm: ${targetPath} not large enough to join array\n`);
  }
  const ours = superblock !== null && superblock.uuid === array.uuid;
  // The kernel re-adds incrementally only what the bitmap still covers (events not older than
  // the bitmap's last clear), or a member that missed nothing.
  const reAddPossible =
    ours &&
    superblock.role === 'active' &&
    ((array.bitmap && superblock.events >= (array.bitmapEventsCleared ?? 0)) ||
      superblock.events === array.events);
  if (op === 're-add') {
    if (!reAddPossible) return done(1, `mdadm: --re-add for ${targetPath} to /dev/${name} is not possible\n`);
    addMember(root, model, name, target, { reAdd: true });
    return done(0, `mdadm: re-added ${targetPath}\n`);
  }
  if (reAddPossible) {
    addMember(root, model, name, target, { reAdd: true });
    return done(0, `mdadm: re-added ${targetPath}\n`);
  }
  if (ours && superblock.role === 'active' && refusesAddOfActiveMember(model)) {
    return done(
      1,
      [
        `mdadm: ${targetPath} reports being an active member for /dev/${name}, but a --re-add fails.`,
        `mdadm: not performing --add as that would convert ${targetPath} in to a spare.`,
        `mdadm: To make this a spare, use "mdadm --zero-superblock ${targetPath}" first.`,
        '',
      ].join('\n'),
    );
  }
  // The re-add the kernel refused falls through to a plain add (mdadm ≥ 3.2.4), which, like any
  // --add, writes this array's superblock over whatever was there: a full rebuild.
  addMember(root, model, name, target, { reAdd: false });
  return done(0, `mdadm: added ${targetPath}\n`);
};

/** What holds a device open, so that mdadm's `O_EXCL` open of it fails with EBUSY; null when nothing. */
const exclusiveHolder = (model, device) => {
  for (const [name, array] of Object.entries(model.arrays)) {
    if (array.members.some((member) => member.device === device)) return `md array ${name}`;
  }
  if (model.mounts.some((mount) => mount.device === device)) return 'a mount';
  if (model.swaps.includes(device)) return 'swap';
  for (const [dm, info] of Object.entries(model.dm)) if (info.slaves.includes(device)) return dm;
  const extra = model.extraHolders[device];
  if (extra !== undefined && extra.length > 0) return extra[0];
  return null;
};

/** The array a superblock names, when the host runs it. */
const arrayNamedBy = (model, superblock) =>
  superblock === null
    ? null
    : (Object.entries(model.arrays).find(([, array]) => array.uuid === superblock.uuid) ?? null);

/**
 * `mdadm --zero-superblock <device>...` (`Kill` in Kill.c, each device in turn, the exit codes
 * or-ed): 2 when the device cannot be opened exclusively, 0 otherwise, with "Unrecognised md
 * component device" when there was nothing to zero.
 */
const zeroSuperblock = (root, model, paths) => {
  let code = 0;
  let stderr = '';
  for (const path of paths) {
    const device = path.replace(/^\/dev\//, '');
    const onMedium = readSuperblock(root, model, device);
    const named = arrayNamedBy(model, onMedium);
    logAction(root, {
      argv: ['mdadm', '--zero-superblock', path],
      before:
        named === null
          ? null
          : {
              array: named[0],
              uuid: named[1].uuid,
              events: named[1].events,
              inSync: inSyncDevices(named[1]),
              member: named[1].members.find((member) => member.device === device)?.state ?? null,
              onMedium: { uuid: onMedium.uuid, events: onMedium.events },
            },
    });
    if (
      !deviceNodeExists(model, device) ||
      !deviceReadable(model, device) ||
      exclusiveHolder(model, device) !== null
    ) {
      stderr += `mdadm: Couldn't open ${path} for write - not zeroing\n`;
      code |= 2;
      continue;
    }
    if (onMedium === null) {
      stderr += `mdadm: Unrecognised md component device - ${path}\n`;
      continue;
    }
    clearSuperblock(root, model, device);
  }
  return toolResult(code, '', stderr);
};

/**
 * `mdadm -If <name> [--path <id_path>]` (`IncrementalRemove` in Incremental.c, mdadm 4.2), which
 * udev runs for every block device that goes away (udev-md-raid-assembly.rules: `ACTION=="remove",
 * ENV{ID_PATH}=="?*", RUN+="BINDIR/mdadm -If $name --path $env{ID_PATH}"`): when a VIOS reboots
 * and a client's virtual disk is deleted, its md members leave their arrays before any plan runs.
 * It finds the array mdstat lists the kernel name in, fails the member through
 * `/sys/block/<md>/md/dev-<name>/state` (`Manage_subdevs` with `f`: "mdadm: set sdb1 faulty in
 * md0") and removes it (`r`: "mdadm: hot removed sdb1 from md0"), each an event of the array. The
 * partition's superblock is not written: the kernel writes none to a faulty member, so it still
 * names the array, with the events it had (the stale half `md.zero-superblock` is for). Refusals,
 * exit 1: a path instead of a kernel name ("mdadm: incremental removal requires a kernel device
 * name, not a file: /dev/sdb1"), a name mdstat lists in no array ("mdadm: sdb1 does not appear to
 * be a component of any array"), the last in-sync member (EBUSY from the kernel: "mdadm: set
 * device faulty failed for sdb1:  Device or resource busy"; mdadm then tries to stop the array,
 * which one in use refuses, so it stays as it was).
 */
const incrementalRemove = (root, model, args, argv) => {
  const name = args[0] ?? '';
  const listed = Object.entries(model.arrays).find(([, array]) =>
    array.members.some((member) => member.device === name),
  );
  const onMedium = readSuperblock(root, model, name);
  logAction(root, {
    argv: ['mdadm', ...argv],
    before:
      listed === undefined
        ? null
        : {
            array: listed[0],
            uuid: listed[1].uuid,
            events: listed[1].events,
            inSync: inSyncDevices(listed[1]),
            member: listed[1].members.find((member) => member.device === name)?.state ?? null,
            onMedium: onMedium === null ? null : { uuid: onMedium.uuid, events: onMedium.events },
          },
  });
  if (name.includes('/')) {
    return toolResult(
      1,
      '',
      `mdadm: incremental removal requires a kernel device name, not a file: ${name}\n`,
    );
  }
  if (listed === undefined) {
    return toolResult(1, '', `mdadm: ${name} does not appear to be a component of any array\n`);
  }
  const [arrayName, array] = listed;
  const member = array.members.find((candidate) => candidate.device === name);
  const messages = [];
  if (member.state !== 'faulty') {
    if (member.state === 'in_sync' && inSyncDevices(array).length === 1) {
      return toolResult(1, '', `mdadm: set device faulty failed for ${name}:  Device or resource busy\n`);
    }
    if (array.recovery?.device === name) array.recovery = null;
    member.state = 'faulty';
    bumpEvents(root, model, arrayName);
  }
  messages.push(`mdadm: set ${name} faulty in ${arrayName}`);
  array.members = array.members.filter((candidate) => candidate !== member);
  bumpEvents(root, model, arrayName);
  messages.push(`mdadm: hot removed ${name} from ${arrayName}`);
  saveModel(root, model);
  return toolResult(0, '', `${messages.join('\n')}\n`);
};
