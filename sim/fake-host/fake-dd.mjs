import { deviceNodeExists, loadModel, locateDevice, logRead } from './host-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake `dd` (tools.mjs): the direct read of a disk's first block that the agent's disk watch
 * runs (`dd if=/dev/sdb of=/dev/null bs=4096 count=1 iflag=direct`; on Solaris
 * `dd if=/dev/rdsk/c0d1s2 of=/dev/null bs=4096 count=1`, the raw device being uncached already),
 * answered from the host model as the real tool and the kernel answer:
 *
 * Linux, GNU coreutils dd 8.32 (RHEL 9, SLES 15, Debian 12 print the same):
 * - a running, readable disk: `1+0 records in`, `1+0 records out`,
 *   `4096 bytes (4.1 kB, 4.0 KiB) copied, 0.000104 s, 39.4 MB/s` on stderr, exit 0;
 * - no node (the disk was deleted, or never came back): `open(2)` fails with ENOENT:
 *   `dd: failed to open '/dev/sdc': No such file or directory`, exit 1;
 * - an `offline` SCSI device: the open itself fails. `sd_open()` (drivers/scsi/sd.c) first calls
 *   `scsi_block_when_processing_errors()`, which returns false for a device that is not online,
 *   and then checks `scsi_device_online()` again, both failing the open with -ENXIO; an I/O that
 *   did reach an offline device would be refused by `scsi_device_state_check()` with
 *   BLK_STS_IOERR, but dd never gets that far. So: `dd: failed to open '/dev/sdc': No such device
 *   or address`, exit 1. `transport-offline` is the same;
 * - a `blocked` device (the transport is recovering: an FC rport before `fast_io_fail_tmo`, an
 *   ibmvscsi CRQ being reset) opens, and its read waits in the block queue until the device is
 *   unblocked: dd hangs in D state. A LUN whose server stopped answering while its device still
 *   runs (`hangs` in the model: a VIOS gone with no error back yet, the SCSI timeout and error
 *   handler still retrying) hangs the same way. A hung dd never exits by itself;
 * - a running device whose medium fails (`readable: false`): the read gets EIO:
 *   `dd: error reading '/dev/sdc': Input/output error`, then `0+0 records in`, `0+0 records out`,
 *   `0 bytes copied, 0.000337 s, 0.0 kB/s`, exit 1.
 *
 * Solaris 11 /usr/bin/dd (the SVR4 dd of illumos `usr/src/cmd/dd/dd.c`) prints only the records
 * lines; an open it cannot do is `dd: /dev/rdsk/c0d1s2: open: No such file or directory` and a
 * read error `read: I/O error` then the records lines, both exit 2. A vdc disk whose service
 * domain is away fails its I/O with EIO once `vdc_timeout` expires; with the default (0, wait
 * for ever) it blocks instead: `hangs` in the model.
 *
 * Operands other than `if=`, `of=/dev/null`, `bs=`, `count=`, `iflag=` and `oflag=` are refused as
 * dd refuses an unknown operand; this fake never writes, so any other `of=` is refused too.
 */

const GNU_COPIED_SECONDS = '0.000104';
const GNU_FAILED_SECONDS = '0.000337';

/** `4096 bytes (4.1 kB, 4.0 KiB) copied`, as coreutils prints a byte count. */
const bytesCopied = (bytes) => {
  if (bytes < 1000) return `${bytes} bytes copied`;
  const si = ['kB', 'MB', 'GB'];
  const iec = ['KiB', 'MiB', 'GiB'];
  let siValue = bytes / 1000;
  let siIndex = 0;
  while (siValue >= 1000 && siIndex < si.length - 1) {
    siValue /= 1000;
    siIndex += 1;
  }
  let iecValue = bytes / 1024;
  let iecIndex = 0;
  while (iecValue >= 1024 && iecIndex < iec.length - 1) {
    iecValue /= 1024;
    iecIndex += 1;
  }
  return `${bytes} bytes (${siValue.toFixed(1)} ${si[siIndex]}, ${iecValue.toFixed(1)} ${iec[iecIndex]}) copied`;
};

/** The throughput coreutils prints for `bytes` in `GNU_COPIED_SECONDS`. */
const rate = (bytes) => `${(bytes / Number(GNU_COPIED_SECONDS) / 1_000_000).toFixed(1)} MB/s`;

const KNOWN_OPERANDS = new Set(['if', 'of', 'bs', 'count', 'iflag', 'oflag']);

/** A process that never returns: `main` keeps it alive until it is killed. */
const hung = () => ({ ...toolResult(0), hangs: true });

/** What a Linux open and read of `/dev/<device>` do on the model. */
const linuxRead = (model, path, device, blockBytes) => {
  const located = locateDevice(model, device);
  if (located === null || !deviceNodeExists(model, device)) {
    return toolResult(1, '', `dd: failed to open '${path}': No such file or directory\n`);
  }
  const { lun } = located;
  if (lun.state === 'offline' || lun.state === 'transport-offline') {
    return toolResult(1, '', `dd: failed to open '${path}': No such device or address\n`);
  }
  if (lun.state === 'blocked' || lun.hangs === true) return hung();
  if (!lun.readable) {
    return toolResult(
      1,
      '',
      `dd: error reading '${path}': Input/output error\n0+0 records in\n0+0 records out\n0 bytes copied, ${GNU_FAILED_SECONDS} s, 0.0 kB/s\n`,
    );
  }
  return toolResult(
    0,
    '',
    `1+0 records in\n1+0 records out\n${bytesCopied(blockBytes)}, ${GNU_COPIED_SECONDS} s, ${rate(blockBytes)}\n`,
  );
};

/** What a Solaris open and read of `/dev/rdsk/<disk>s<n>` do on the model. */
const solarisRead = (model, path) => {
  const slice = /^\/dev\/r?dsk\/(c\d+(?:t[0-9A-Fa-f]+)?d\d+)s\d+$/.exec(path);
  const disk = slice === null ? undefined : model.solarisDisks?.[slice[1]];
  if (disk === undefined) {
    return toolResult(2, '', `dd: ${path}: open: No such file or directory\n`);
  }
  if (disk.hangs === true) return hung();
  if (!disk.readable) return toolResult(2, '', 'read: I/O error\n0+0 records in\n0+0 records out\n');
  return toolResult(0, '', '1+0 records in\n1+0 records out\n');
};

/** `dd` with its argument vector, on the host at `root`. */
export const dd = (root, argv) => {
  logRead(root, { argv: ['dd', ...argv] });
  const model = loadModel(root);
  const solaris = model.platform === 'solaris';
  const operands = new Map();
  for (const argument of argv) {
    const equals = argument.indexOf('=');
    const key = equals < 0 ? argument : argument.slice(0, equals);
    if (equals < 0 || !KNOWN_OPERANDS.has(key)) {
      return solaris
        ? toolResult(2, '', `dd: unrecognized operand: ${argument}\n`)
        : toolResult(
            1,
            '',
            `dd: unrecognized operand '${argument}'\nTry 'dd --help' for more information.\n`,
          );
    }
    operands.set(key, argument.slice(equals + 1));
  }
  const output = operands.get('of');
  if (output !== undefined && output !== '/dev/null') {
    return toolResult(1, '', `dd: the fake dd only reads (of=/dev/null), not of=${output}\n`);
  }
  const path = operands.get('if');
  if (path === undefined) {
    // Real dd would read its standard input; nothing in the agent asks for that.
    return toolResult(1, '', 'dd: the fake dd needs if=\n');
  }
  if (solaris) return solarisRead(model, path);
  const blockBytes = Number(operands.get('bs') ?? '512');
  return linuxRead(
    model,
    path,
    path.replace(/^\/dev\//, ''),
    Number.isInteger(blockBytes) ? blockBytes : 512,
  );
};
