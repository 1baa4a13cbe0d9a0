import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { deviceMinor, deviceNodeExists, diskMinor, locateDevice, partitionsShown } from './devices.mjs';

/**
 * The fake host's tree (host-model.mjs renders it after every change): the model laid out as
 * Linux lays it out, for the executor and the scan to read: `proc/mdstat`, `proc/self/mountinfo`,
 * `proc/swaps`, `proc/stat`, `sys/block/<disk>` with its partitions, sizes, device numbers and
 * holders, `sys/class/scsi_device/<hctl>/device` and `sys/class/scsi_host/<host>` (ibmvscsi, with
 * the hosting partition and the location code; ibmvfc, with what its NPIV login answered:
 * `partition_name`, `device_name`, `port_loc_code`, `drc_name`, `npiv_version`, `capabilities`,
 * its LUNs under an `rport-H:C-T` with their target's `fc_transport/.../port_name`),
 * `proc/device-tree` (partition name, model, system id), `proc/sys/dev/raid/speed_limit_min`,
 * `sys/block/<md>/md/dev-*`, `sync_action` and `sync_completed`, dm's
 * `dm/uuid` and slaves, and `dev/` nodes (a readable device is a file of data; an unreadable one
 * a directory, whose read fails as an offline disk's does).
 */

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
    if (array.recovery?.delayed === true) {
      // md_seq_show: a sync waiting for another array on the same disks.
      lines.push('      \tresync=DELAYED');
    } else if (array.recovery !== null) {
      const done = Math.floor((array.sizeKiB * array.recovery.progress) / 100);
      const bar = Math.floor(array.recovery.progress / 5);
      const speedKiB = Math.max(
        1,
        Math.round(array.syncSpeedKiB ?? (array.recovery.rate * array.sizeKiB) / 100),
      );
      const finish = (array.sizeKiB - done) / speedKiB / 60;
      lines.push(
        `      [${'='.repeat(bar)}>${'.'.repeat(Math.max(0, 19 - bar))}]  recovery = ${array.recovery.progress.toFixed(1)}% (${done}/${array.sizeKiB}) finish=${finish.toFixed(1)}min speed=${speedKiB}K/sec`,
      );
    }
    if (array.bitmap) lines.push('      bitmap: 1/1 pages [4KB], 65536KB chunk');
    lines.push('      ');
  }
  lines.push('unused devices: <none>', '');
  return lines.join('\n');
};

const escapeMount = (text) => text.replace(/ /g, '\\040');

/** Renders the model into the tree under `root`, replacing its `proc`, `sys` and `dev`. */
export const renderTree = (root, model) => {
  for (const top of ['proc', 'sys', 'dev']) rmSync(join(root, top), { recursive: true, force: true });
  // A Solaris guest has no mdstat; the scan of a tree tells Solaris by its SVM folder.
  if (model.platform === 'solaris') folder(root, 'sos_commands/svm');
  else file(root, 'proc/mdstat', mdstatText(model));
  file(root, 'proc/stat', `cpu  1 2 3 4 5 6 7 0 0 0\nbtime ${model.btime}\nprocesses 1234\n`);
  file(root, 'proc/sys/kernel/random/boot_id', `${model.bootId}\n`);
  file(root, 'proc/sys/dev/raid/speed_limit_min', `${model.speedLimitMinKiB ?? 1000}\n`);
  file(root, 'proc/sys/dev/raid/speed_limit_max', '200000\n');
  file(root, 'proc/device-tree/ibm,partition-name', `${model.ownPartition}\0`);
  const system = /^U(\w{4})\.(\w{3})\.(\w{7})$/.exec(model.system);
  if (system !== null) {
    // As firmware shows them: `IBM,<type>-<model>`, and `IBM,<plant><serial>` (plant code 02 here).
    file(root, 'proc/device-tree/model', `IBM,${system[1]}-${system[2]}\0`);
    file(root, 'proc/device-tree/system-id', `IBM,02${system[3]}\0`);
  }

  const numbers = new Map();
  const mountLines = [];
  const procMounts = [];
  let mountId = 30;
  for (const mount of model.mounts) {
    const minor = deviceMinor(model, mount.device);
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
    if (info.driver === 'ibmvfc') {
      // ibmvfc's host attributes show its NPIV login answer (ibmvfc_npiv_login_resp): empty
      // strings and version 0 until the VIOS answered.
      const login = info.partitionName !== undefined;
      file(root, `${base}/partition_name`, `${login ? info.partitionName : ''}\n`);
      file(root, `${base}/device_name`, `${login ? (info.deviceName ?? 'fcs0') : ''}\n`);
      file(
        root,
        `${base}/port_loc_code`,
        `${login ? (info.portLocCode ?? 'U78D3.001.WZS0ABC-P1-C6-T1') : ''}\n`,
      );
      file(
        root,
        `${base}/drc_name`,
        `${login ? `${model.system}-V${info.partitionNumber}-C${info.slot}` : ''}\n`,
      );
      file(root, `${base}/npiv_version`, `${login ? 1 : 0}\n`);
      file(root, `${base}/capabilities`, `${login ? 'e' : '0'}\n`);
      if (info.wwpn !== undefined) file(root, `sys/class/fc_host/${host}/port_name`, `0x${info.wwpn}\n`);
    } else if (info.partitionName !== undefined) {
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
    // An FC LUN sits under its remote port, as the FC transport class lays it out.
    const fc = lun.targetPort !== undefined;
    const parent = fc ? `${host}/rport-${h}:${c}-${t}` : host;
    const device = `sys/devices/vio/${adapter}/${parent}/target${h}:${c}:${t}/${hctl}`;
    const disk = lun.attached;
    file(root, `${device}/state`, `${lun.state}\n`);
    file(root, `${device}/vendor`, `${(lun.vendor ?? 'AIX').padEnd(8)}\n`);
    file(root, `${device}/model`, `${(lun.product ?? 'VDASD').padEnd(16)}\n`);
    if (fc) file(root, `sys/class/fc_transport/target${h}:${c}:${t}/port_name`, `0x${lun.targetPort}\n`);
    file(root, `${device}/ioerr_cnt`, '0x0\n');
    file(root, `${device}/delete`, '');
    if (lun.wwid !== undefined) file(root, `${device}/wwid`, `${lun.wwid}\n`);
    folder(root, `${device}/block/${disk}`);
    link(root, `sys/class/scsi_device/${hctl}/device`, device);
    link(root, `sys/block/${disk}/device`, device);
    const minor = diskMinor(disk);
    numbers.set(disk, `8:${minor}`);
    file(root, `sys/block/${disk}/size`, `${Math.floor(lun.sizeBytes / 512)}\n`);
    file(root, `sys/block/${disk}/dev`, `8:${minor}\n`);
    folder(root, `sys/block/${disk}/holders`);
    const reads = lun.readable && lun.state === 'running' && lun.hangs !== true;
    node(root, `dev/${disk}`, reads);
    if (!partitionsShown(model, lun)) continue;
    for (const partition of lun.partitions) {
      const name = `${disk}${partition.number}`;
      const base = `sys/block/${disk}/${name}`;
      file(root, `${base}/partition`, `${partition.number}\n`);
      file(root, `${base}/size`, `${Math.floor(partition.sizeBytes / 512)}\n`);
      file(root, `${base}/dev`, `8:${minor + partition.number}\n`);
      folder(root, `${base}/holders`);
      node(root, `dev/${name}`, reads, partition.signature);
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
    // sync_completed_show: `none`, `delayed`, or the checkpointed `<done> / <total>` sectors.
    const total = array.sizeKiB * 2;
    file(
      root,
      `${base}/sync_completed`,
      array.recovery === null
        ? 'none\n'
        : array.recovery.delayed === true
          ? 'delayed\n'
          : `${Math.min(total, array.recovery.completedSectors ?? 0)} / ${total}\n`,
    );
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
    node(root, `dev/rdsk/${device}s2`, info.readable && info.hangs !== true);
  }
};
