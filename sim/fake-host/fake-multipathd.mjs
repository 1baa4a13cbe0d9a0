import { deviceMinor } from './devices.mjs';
import { loadModel, logAction, logRead, saveModelOnly } from './host-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake `multipathd` client (tools.mjs), as multipath-tools 0.12 answers it (its texts are
 * the same from 0.9.x on), read from its source (multipathd/cli_handlers.c, multipathd/uxlsnr.c,
 * multipathd/uxclnt.c, libmultipath/print.c, libmultipath/discovery.c, multipathd/main.c):
 *
 * - `show topology` (`show maps topology`) prints the maps as `multipath -ll` does, one path per
 *   line as `%i %d %D %t %T %o`: hcil, dev, dev_t, dm state (`active`/`failed`), checker state
 *   (`ready`, `faulty`, `ghost`, `i/o pending`, `undef`...) and device state (`running`/`offline`);
 * - `show paths` prints `PRINT_PATH_CHECKER` (`%i %d %D %p %t %T %o %C`) under its header
 *   `hcil dev dev_t pri dm_st chk_st dev_st next_check`, each column as wide as its widest cell
 *   (`get_path_layout`), `next_check` as `snprint_progress` draws it (`XX........ 1/5`);
 * - `reinstate path <dev>` is `cli_reinstate`: it finds the path (else `-ENODEV`, which
 *   `default_reply` answers `fail\ndevice not found\n` and the client prints `device not found`,
 *   exit 1), logs `<map>: reinstate path <dev_t> (operator)`, sets the path `PATH_UNCHECKED` with
 *   `pp->tick = 1` (0.11 the tick, 0.12 the state: "the checker updates the path state" at its
 *   next tick, a second later; 0.9.x waits for the path's next regular check, 5 to 20 s) and
 *   sends dm the `reinstate_path <dev_t>` message. The kernel's dm-mpath `reinstate_path()`
 *   ("Reinstating path 8:48.") never looks at the SCSI device, so the answer is `ok` (exit 0)
 *   whatever state the path is in. **`ok` says only that dm took the message.** Until the checker
 *   runs, `show paths` prints the path `active undef <dev_st>`;
 * - the checker's next run (`check_path`) decides: the device state comes from sysfs first
 *   (`path_sysfs_state`): `offline` (and any state it does not name, `transport-offline`) is
 *   `PATH_DOWN` without calling the checker ("state offline, checker not called") and prints
 *   `dev_st` `offline`; `blocked`/`quiesce` is `PATH_PENDING`; `running` calls the checker (tur:
 *   TEST UNIT READY), which fails while the target does not answer, and answers `ghost` for a port
 *   in standby ("LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE", asc/ascq 04/0b). A
 *   path found down is failed in dm again ("checker failed path 8:48 in map mpatha"): after an
 *   `ok`, `show paths` shows it `failed faulty offline` (the SCSI device is offline) or
 *   `failed faulty running` (the target is still gone). A path whose device the kernel set offline
 *   ("sd 2:0:1:3: rejecting I/O to offline device") therefore cannot be reinstated at all until
 *   `echo running > /sys/class/scsi_device/<hctl>/device/state` (host-model.mjs `scsiSetState`).
 *
 * The `dev_st` column is the daemon's view at its last check, not sysfs now: after the device is
 * set running it still prints `offline` until the checker runs again. Not modelled: the periodic
 * checker (every `polling_interval`, up to `max_polling_interval`), which would reinstate a path
 * whose device answers again by itself; the fake's failed paths are the ones that need the
 * operator's reinstate, and a path is checked only a tick after a reinstate, when the daemon is
 * next asked (time passes on the host's clock).
 */

/** `pp->tick = 1`: the checker runs at the daemon's next one-second tick after an operator's reinstate. */
export const CHECKER_TICK_MS = 1000;

/** `PROGRESS_LEN` of libmultipath/print.c: the width of the `next_check` bar. */
const PROGRESS_LEN = 10;
/** `max_polling_interval`'s default (4 × `polling_interval` of 5 s): a settled path's check interval. */
const SETTLED_CHECK_INTERVAL_SECONDS = 20;

/** `path_sysfs_state` on the LUN behind a path: `up`, `pending`, `down` or `removed`. */
const sysfsState = (lun) => {
  if (lun === undefined || lun.attached === null) return 'removed';
  if (lun.state === 'running') return 'up';
  if (lun.state === 'blocked' || lun.state === 'quiesce') return 'pending';
  return 'down';
};

/** A group other than the first holds the array's standby ports (the fakes' maps put them there). */
const standby = (path) => path.group !== 0;

/** The checker's run on one path (`check_path`), as the daemon sees the host now. */
const checkPath = (model, path) => {
  const lun = model.luns[path.hctl];
  const state = sysfsState(lun);
  delete path.recheckAtMs;
  // snprint_offline: `offline` only for PATH_DOWN from sysfs; a removed or pending device prints `running`.
  path.online = state === 'down' ? 'offline' : 'running';
  if (state === 'pending') {
    path.checker = 'i/o pending';
    return;
  }
  const answers = state === 'up' && lun.exported && lun.hangs !== true;
  if (!answers) {
    path.checker = 'faulty';
    path.dmState = 'failed';
    return;
  }
  path.checker = standby(path) ? 'ghost' : 'ready';
  path.dmState = 'active';
};

/** Runs the checks that fell due since the last command; true when a path changed. */
const runDueChecks = (model) => {
  let changed = false;
  for (const path of model.multipath.flatMap((map) => map.paths)) {
    if (typeof path.recheckAtMs !== 'number' || model.simMs < path.recheckAtMs) continue;
    checkPath(model, path);
    changed = true;
  }
  return changed;
};

const devT = (model, path) => `8:${deviceMinor(model, path.device)}`;
const priority = (path) => (standby(path) ? 10 : 50);

const topologyText = (model) => {
  const lines = [];
  for (const map of model.multipath) {
    lines.push(`${map.name} (${map.wwid}) ${map.dm} ${map.vendor},${map.product}`);
    lines.push(`size=50G features='1 queue_if_no_path' hwhandler='1 alua' wp=rw`);
    const groups = [...new Set(map.paths.map((path) => path.group))].sort();
    groups.forEach((group, groupIndex) => {
      const lastGroup = groupIndex === groups.length - 1;
      const paths = map.paths.filter((path) => path.group === group);
      const active = paths.some((path) => path.checker === 'ready');
      lines.push(
        `${lastGroup ? '`' : '|'}-+- policy='service-time 0' prio=${active ? 50 : 10} status=${groupIndex === 0 ? 'active' : 'enabled'}`,
      );
      paths.forEach((path, pathIndex) => {
        const branch = pathIndex === paths.length - 1 ? '`-' : '|-';
        lines.push(
          `${lastGroup ? ' ' : '|'} ${branch} ${path.hctl} ${path.device} ${devT(model, path)} ${path.dmState} ${path.checker} ${path.online}`,
        );
      });
    });
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
};

/** `snprint_progress(tick, checkint)`: `X` for the part of the interval still to wait. */
const nextCheck = (path) => {
  const [tick, interval] =
    typeof path.recheckAtMs === 'number'
      ? [1, 5]
      : [SETTLED_CHECK_INTERVAL_SECONDS / 2, SETTLED_CHECK_INTERVAL_SECONDS];
  const filled = Math.floor((PROGRESS_LEN * tick) / interval);
  return `${'X'.repeat(filled)}${'.'.repeat(PROGRESS_LEN - filled)} ${tick}/${interval}`;
};

const PATH_COLUMNS = ['hcil', 'dev', 'dev_t', 'pri', 'dm_st', 'chk_st', 'dev_st', 'next_check'];

const pathsText = (model) => {
  const rows = model.multipath
    .flatMap((map) => map.paths)
    .map((path) => [
      path.hctl,
      path.device,
      devT(model, path),
      String(priority(path)),
      path.dmState,
      path.checker,
      path.online,
      nextCheck(path),
    ]);
  const widths = PATH_COLUMNS.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells) => `${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' ')}\n`;
  return [PATH_COLUMNS, ...rows].map(line).join('');
};

/** `multipathd` with its argument vector, on the host at `root`. */
export const multipathd = (root, argv) => {
  const model = loadModel(root);
  if (runDueChecks(model)) saveModelOnly(root, model);
  const command = argv.join(' ');
  if (command === 'show topology' || command === 'show maps topology') {
    logRead(root, { argv: ['multipathd', ...argv] });
    return toolResult(0, topologyText(model));
  }
  if (command === 'show paths') {
    logRead(root, { argv: ['multipathd', ...argv] });
    return toolResult(0, pathsText(model));
  }
  const reinstate = /^reinstate path (\S+)$/.exec(command);
  logAction(root, { argv: ['multipathd', ...argv] });
  if (reinstate === null) return toolResult(1, '', `multipathd: unknown command '${command}'\n`);
  const named = reinstate[1];
  const path = model.multipath
    .flatMap((map) => map.paths)
    .find((candidate) => candidate.device === named || devT(model, candidate) === named);
  // cli_reinstate: -ENODEV, answered "fail\ndevice not found\n"; the client drops the "fail".
  if (path === undefined) return toolResult(1, 'device not found\n');
  path.dmState = 'active';
  path.checker = 'undef';
  path.recheckAtMs = model.simMs + CHECKER_TICK_MS;
  saveModelOnly(root, model);
  return toolResult(0, 'ok\n');
};
