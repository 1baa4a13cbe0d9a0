import { loadModel, logAction, logRead, REPLICA_ERROR_FLAGS, saveModel, sliceDisk } from './host-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake Solaris Volume Manager tools (tools.mjs), copying Solaris 10 / 11 SVM as the illumos
 * sources print it (usr/src/cmd/lvm/util/metadb.c, usr/src/lib/lvm/libmeta/common/meta_db.c and
 * meta_error.c), failures first:
 *
 * - `metastat` prints the mirrors and hot spare pools in the format the probes' parser reads.
 * - `metareplace -e` re-enables an errored component and starts its resync, refusing one that is
 *   not errored. Like the real tool it re-enables a Last Erred component too. It does nothing to
 *   the state database: replicas in error stay in error.
 * - `metadb` / `metadb -i` print the replicas as metadb.c's `info()` does: a `\tflags\t\tfirst
 *   blk\tblock count` header, then per replica the 20 flag columns of `MDDB_FLAGS_STRING`
 *   (`"RSFDMaWm  pc luo tBr"`, one column per bit, a blank where the bit is clear), a TAB, the
 *   first block, two TABs, the block count (`unknown` for both when the locator could not be
 *   read), two TABs and `/dev/dsk/<slice>`; `-i` adds the flag legend. With no replica left:
 *   `metadb: <host>: there are no existing databases`, exit 1.
 * - Replicas on a disk that went away (its service domain rebooted) take a write error at SVM's
 *   next commit and are flagged `W` and no longer active (host-model.mjs latches it), and they
 *   STAY in error after the disk is back and after `metareplace`, until `metadb -d <slice>` then
 *   `metadb -a [-c N] <slice>` re-create them. New replicas show `a` and `u` only, as on a live
 *   system before its next boot.
 * - `metadb -d` follows `meta_db_detach`: a slice with no replica is refused ("no metadevice
 *   database replica on device"); deleting every replica needs `-f` ("must have at least 1 database
 *   (-f overrides)"); deleting replicas that are not all in error while the errored replicas left
 *   would outnumber the valid ones left is refused without `-f` ("Deleting specified valid replicas
 *   results in stale state database. Configuration changes with stale database result in
 *   panic(-f overrides)"), which is how the real tool keeps a delete from leaving a stale
 *   database: deleting only replicas in error is always allowed.
 * - `metadb -a` adds `-c` replicas (default 1) of `-l` blocks (default 8192) at blocks
 *   `16 + i * size`; a slice that still holds replicas is refused by the kernel
 *   (`MDDB_E_EXISTS`: "metadevice database replica exists on device"), a disk that does not answer
 *   by the open of its raw slice (`/dev/rdsk/<slice>: I/O error`), more than 50 replicas by
 *   `MDE_TOOMANY_REPLICAS`, a count below 1 by the usage ("count (-c) must be 1 or more").
 *
 * Every `metadb -a`/`-d` (and `metareplace`) is logged as an action, `metadb -d` and `-a` with the
 * replicas as they were (`replicasBefore`), so tests can judge what was deleted against the host
 * as it was.
 */

const DSK = '/dev/dsk/';
const RDSK = '/dev/rdsk/';
/** `MDDB_FLAGS_STRING` of usr/src/uts/common/sys/lvm/md_mddb.h: one column per flag bit. */
const MDDB_FLAGS_STRING = 'RSFDMaWm  pc luo tBr';
const META_DBCONF = '/etc/lvm/mddb.cf';
const MD_DBSIZE = 8192;
const MDDB_FIRST_BLOCK = 16;
/** `c_dbmax` of the local set. */
const MDDB_MAX_REPLICAS = 50;

const LEGEND = [
  ' r - replica does not have device relocation information',
  ' o - replica active prior to last mddb configuration change',
  ' u - replica is up to date',
  ' l - locator for this replica was read successfully',
  ` c - replica's location was in ${META_DBCONF}`,
  " p - replica's location was patched in kernel",
  ' m - replica is master, this is replica selected as input',
  ' t - tagged data is associated with the replica',
  ' W - replica has device write errors',
  ' a - replica is active, commits are occurring to this replica',
  ' M - replica had problem with master blocks',
  ' D - replica had problem with data blocks',
  ' F - replica had format problems',
  ' S - replica is too small to hold current data base',
  ' R - replica had device read errors',
  ' B - tagged data associated with the replica is not valid',
];

const USAGE = [
  'usage:  metadb [-s setname] -a [options] mddbnnn',
  '\tmetadb [-s setname] -a [options] device ...',
  '\tmetadb [-s setname] -d [options] mddbnnn',
  '\tmetadb [-s setname] -d [options] device ...',
  '\tmetadb [-s setname] -i ',
  '\tmetadb -p [options] [ mddb.cf-file ]',
  'options:',
  '-c count\tnumber of replicas (for use with -a only)',
  '-f\t\tforce adding or deleting of replicas',
  '-k filename\talternate /etc/system file',
  '-l length\tspecify size of replica (for use with -a only)',
  '',
].join('\n');

const usage = (message) => toolResult(1, '', `${message === '' ? '' : `metadb: ${message}\n`}${USAGE}`);

/** The flag columns of a replica: each letter of `flags` in its bit's column. */
const flagColumns = (flags) =>
  [...MDDB_FLAGS_STRING].map((letter) => (letter !== ' ' && flags.includes(letter) ? letter : ' ')).join('');

const metastatText = (model) => {
  const lines = [];
  for (const mirror of model.svm.mirrors) {
    lines.push(`${mirror.name}: Mirror`);
    mirror.submirrors.forEach((submirror, index) => {
      lines.push(`    Submirror ${index}: ${submirror.name}`);
      lines.push(`      State: ${submirror.state} `);
    });
    lines.push(
      '    Pass: 1',
      '    Read option: roundrobin (default)',
      '    Write option: parallel (default)',
    );
    if (mirror.resync !== null && mirror.resync !== undefined) {
      lines.push(`    Resync in progress: ${Math.floor(mirror.resync)} % done`);
    }
    lines.push(`    Size: ${mirror.blocks} blocks (20 GB)`, '');
    for (const submirror of mirror.submirrors) {
      lines.push(`${submirror.name}: Submirror of ${mirror.name}`);
      lines.push(`    State: ${submirror.state} `);
      const maintenance = submirror.components.find((component) => component.state === 'Maintenance');
      if (maintenance !== undefined)
        lines.push(`    Invoke: metareplace ${mirror.name} ${maintenance.device} <new device>`);
      if (submirror.hotSparePool !== undefined) lines.push(`    Hot spare pool: ${submirror.hotSparePool}`);
      lines.push(`    Size: ${mirror.blocks} blocks (20 GB)`, '    Stripe 0:');
      lines.push('        Device   Start Block  Dbase        State Reloc Hot Spare');
      for (const component of submirror.components) {
        lines.push(
          `        ${component.device}          0     No     ${component.state.padStart(11)}   Yes ${component.hotSpare ?? ''}`,
        );
      }
      lines.push('', '');
    }
  }
  for (const pool of model.svm.hotSparePools ?? []) {
    lines.push(`${pool.name}: ${pool.spares.length} hot spares`);
    lines.push('        Device     Status      Length           Reloc');
    for (const spare of pool.spares)
      lines.push(`        ${spare.device}   ${spare.status}       2097152 blocks   Yes`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
};

/** Where each replica starts: its own `firstBlock`, else the next one on its slice. */
const placed = (replicas) => {
  const next = new Map();
  return replicas.map((replica) => {
    const blockCount = replica.blockCount ?? MD_DBSIZE;
    const firstBlock = replica.firstBlock ?? next.get(replica.device) ?? MDDB_FIRST_BLOCK;
    next.set(replica.device, firstBlock + blockCount);
    return { ...replica, firstBlock, blockCount };
  });
};

const metadbText = (model, long) => {
  const lines = ['\tflags\t\tfirst blk\tblock count'];
  for (const replica of placed(model.svm.metadb)) {
    const blocks =
      replica.locatorUnread === true
        ? '\tunknown\t\tunknown\t'
        : `\t${replica.firstBlock}\t\t${replica.blockCount}\t`;
    lines.push(`${flagColumns(replica.flags)}${blocks}\t${DSK}${replica.device}`);
  }
  if (long) lines.push(...LEGEND);
  return `${lines.join('\n')}\n`;
};

/** `metastat` with its argument vector, on the host at `root`. */
export const metastat = (root, argv) => {
  logRead(root, { argv: ['metastat', ...argv] });
  const model = loadModel(root);
  if (model.svm === null)
    return toolResult(1, '', `metastat: ${model.hostId}: there are no existing databases\n`);
  return toolResult(0, metastatText(model));
};

/** getopt(3) over `ac:dfhik:l:ps:`, as metadb's `main` and `chngdb` read their arguments. */
const parseMetadbArgs = (argv) => {
  const options = { command: 'info', long: false, force: false, count: 1, size: MD_DBSIZE, operands: [] };
  let index = 0;
  for (; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    if (arg === '--') {
      index += 1;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    for (let at = 1; at < arg.length; at += 1) {
      const letter = arg[at];
      if (letter === 'c' || letter === 'k' || letter === 'l' || letter === 's') {
        const value = at + 1 < arg.length ? arg.slice(at + 1) : argv[++index];
        if (value === undefined) return { error: `option requires an argument -- ${letter}` };
        if (letter === 'c' || letter === 'l') {
          if (!/^-?\d+$/.test(value)) return { error: `${value}: bad format` };
          options[letter === 'c' ? 'count' : 'size'] = Number(value);
        }
        break;
      }
      if (letter === 'a') options.command = 'attach';
      else if (letter === 'd') options.command = 'detach';
      else if (letter === 'i') {
        options.command = 'info';
        options.long = true;
      } else if (letter === 'f') options.force = true;
      else if (letter === 'p') options.command = 'patch';
      else return { error: 'unknown command' };
    }
  }
  options.operands = argv.slice(index);
  return options;
};

/** A device operand as metaname() takes it: `c0d1s7` or `/dev/dsk/c0d1s7`; null when it is neither. */
const sliceName = (operand) => {
  const name = operand.startsWith(DSK) ? operand.slice(DSK.length) : operand;
  return /^c\d+(?:t[0-9A-Fa-f]+)?d\d+s\d+$/.test(name) ? name : null;
};

const erred = (replica) => REPLICA_ERROR_FLAGS.test(replica.flags);

/** SVM keeps one master replica, the one it read its state from: the first active one. */
const electMaster = (replicas) => {
  if (replicas.some((replica) => replica.flags.includes('m') && !erred(replica))) return;
  const next = replicas.find((replica) => replica.flags.includes('a') && !erred(replica));
  if (next !== undefined) next.flags = `${next.flags}m`;
};

const fail = (model, message) => toolResult(1, '', `metadb: ${model.hostId}: ${message}\n`);

/** `metadb -d [-f] <slice> ...`: `meta_db_detach` of libmeta/common/meta_db.c. */
const detach = (root, model, options, slices) => {
  const replicas = model.svm.metadb;
  for (const slice of slices) {
    if (!replicas.some((replica) => replica.device === slice))
      return fail(model, `${slice}: no metadevice database replica on device`);
  }
  const doomed = replicas.filter((replica) => slices.includes(replica.device));
  const kept = replicas.filter((replica) => !slices.includes(replica.device));
  if (kept.length < 1 && !options.force) return fail(model, 'must have at least 1 database (-f overrides)');
  const invalidToDelete = doomed.filter(erred).length;
  const invalidKept = kept.filter(erred).length;
  const validKept = kept.length - invalidKept;
  if (invalidToDelete !== doomed.length && invalidKept > validKept && !options.force) {
    return fail(
      model,
      'Deleting specified valid replicas results in stale state database. Configuration changes with stale database result in panic(-f overrides)',
    );
  }
  model.svm.metadb = kept;
  electMaster(model.svm.metadb);
  saveModel(root, model);
  return toolResult(0);
};

/** `metadb -a [-f] [-c N] [-l size] <slice> ...`: `meta_db_attach`, then the kernel's `MD_DB_NEWDEV`. */
const attach = (root, model, options, slices) => {
  const replicas = model.svm.metadb;
  if (replicas.length + options.count * slices.length > MDDB_MAX_REPLICAS) {
    return fail(
      model,
      `${replicas.length + options.count * slices.length} metadevice database replicas is too many; the maximum is ${MDDB_MAX_REPLICAS}`,
    );
  }
  for (const slice of slices) {
    const disk = model.solarisDisks?.[sliceDisk(slice)];
    if (disk === undefined) return fail(model, `${slice}: No such file or directory`);
    if (!disk.readable || disk.hangs === true) return fail(model, `${RDSK}${slice}: I/O error`);
    if (replicas.some((replica) => replica.device === slice))
      return fail(model, 'metadevice database replica exists on device');
  }
  for (const slice of slices) {
    for (let index = 0; index < options.count; index += 1) {
      replicas.push({
        device: slice,
        flags: 'au',
        firstBlock: MDDB_FIRST_BLOCK + index * options.size,
        blockCount: options.size,
      });
    }
  }
  electMaster(replicas);
  saveModel(root, model);
  return toolResult(0);
};

/** `metadb` with its argument vector, on the host at `root`. */
export const metadb = (root, argv) => {
  const options = parseMetadbArgs(argv);
  const changes = !('error' in options) && (options.command === 'attach' || options.command === 'detach');
  const model = loadModel(root);
  const before = model.svm?.metadb.map(({ device, flags }) => ({ device, flags })) ?? [];
  if (changes) logAction(root, { argv: ['metadb', ...argv], replicasBefore: before });
  else logRead(root, { argv: ['metadb', ...argv] });
  if ('error' in options) return usage(options.error);
  if (options.command === 'patch') return fail(model, '-p (patching md.conf) is not simulated by this fake');
  if (options.command === 'info') {
    if (options.operands.length > 0) return usage('too many arguments');
    if (model.svm === null || model.svm.metadb.length === 0)
      return fail(model, 'there are no existing databases');
    return toolResult(0, metadbText(model, options.long));
  }
  if (options.count < 1) return usage('count (-c) must be 1 or more');
  if (options.operands.length === 0) return usage('no devices specified to attach or detach');
  const slices = [];
  for (const operand of options.operands) {
    const slice = sliceName(operand);
    if (slice === null) return fail(model, `${operand}: No such file or directory`);
    slices.push(slice);
  }
  if (model.svm === null) return fail(model, 'there are no existing databases');
  return options.command === 'detach'
    ? detach(root, model, options, slices)
    : attach(root, model, options, slices);
};

/** `metareplace` with its argument vector, on the host at `root`. */
export const metareplace = (root, argv) => {
  logAction(root, { argv: ['metareplace', ...argv] });
  const model = loadModel(root);
  const [flag, mirrorName, device] = argv;
  if (flag !== '-e' || mirrorName === undefined || device === undefined) {
    return toolResult(1, '', 'usage: metareplace [-s setname] -e mirror component\n');
  }
  const mirror = model.svm?.mirrors.find((candidate) => candidate.name === mirrorName);
  if (mirror === undefined)
    return toolResult(1, '', `metareplace: ${model.hostId}: ${mirrorName}: unit not set up\n`);
  for (const submirror of mirror.submirrors) {
    const component = submirror.components.find((candidate) => candidate.device === device);
    if (component === undefined) continue;
    if (component.state === 'Okay' || component.state === 'Resyncing') {
      return toolResult(
        1,
        '',
        `metareplace: ${model.hostId}: ${mirrorName}: ${device}: component is not in an errored state\n`,
      );
    }
    // Like the real tool, a Last Erred component is re-enabled too: its good blocks are then overwritten.
    // The state database is not touched: replicas in error on this disk stay in error.
    component.state = 'Resyncing';
    submirror.state = 'Resyncing';
    mirror.resync = 0;
    saveModel(root, model);
    return toolResult(0, `${mirrorName}: device ${device} is enabled\n`);
  }
  return toolResult(
    1,
    '',
    `metareplace: ${model.hostId}: ${mirrorName}: ${device}: not a component of the mirror\n`,
  );
};
