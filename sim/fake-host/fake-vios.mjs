import { loadServerModel, logServerCommand, serverNow } from './server-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake tools of a Virtual I/O Server (VIOS 3.1 on AIX 7.2), over the `vios` part of
 * server-model.mjs: what a hosting partition's agent runs to name itself, date its boot and know
 * it serves again.
 *
 * - `ioscli lsmap -all`: per virtual SCSI server adapter the `SVSA Physloc Client Partition ID`
 *   header, `vhostN  U<type>.<model>.<serial>-V<lpar>-C<slot>  0x<client id>` (`0x00000000` when
 *   no client is logged in) and one `VTD`/`Status`/`LUN`/`Backing device`/`Physloc`/`Mirrored`
 *   block per virtual target device, or `VTD                   NO VIRTUAL TARGET DEVICE FOUND`.
 *   After an IPL the target devices stay `Defined` until the VIOS has configured its virtual
 *   devices (`configured: true`, `configureVios`; `configureVios(model, ['vtscsi0'])` configures
 *   only those, as a VIOS configures its targets one after another): a client sees no disk behind
 *   a `Defined` one. A `stale` target is a VTD whose backing disk or logical volume was removed
 *   and that was never `rmvdev`'d: its `Backing device` still names the device, and cfgmgr cannot
 *   configure it, so it stays `Defined` after every boot.
 * - `ioscli lsmap -all -npiv`: per virtual FC server adapter `Name Physloc ClntID ClntName
 *   ClntOS`, `Status:LOGGED_IN` or `Status:NOT_LOGGED_IN`, `FC name:fcs0  FC loc code:...`,
 *   `Ports logged in:`, `Flags:`, `VFC client name:  VFC client DRC:`. A mapped adapter's client
 *   (`loggedIn`: its partition runs) logs in through it only once the VIOS has configured its
 *   devices and while the physical port is on the fabric (`portOnFabric`, default true: its cable
 *   and switch port up); otherwise `Status:NOT_LOGGED_IN`, `Ports logged in:0`,
 *   `Flags:4<NOT_LOGGED>`, the client's columns empty, as an unmapped adapter
 *   (`Flags:1<NOT_MAPPED,NOT_CONNECTED>`) shows them.
 * - `uname -L` (`<lpar id> <partition name>`), `uname -M` (`IBM,9080-M9S`), `uname -u`
 *   (`IBM,0278AB12C`), `uname` (`AIX`).
 * - `who -b`: `   .        system boot  Nov 22 03:10`, the boot record in local time, no year, to the
 *   minute, in the zone the `TZ` of its environment names, read as the C library's `tzset` reads
 *   it (glibc's order; AIX 7.2 and IBM i PASE take both forms): a zone file's name
 *   (`America/Chicago`, `:America/Chicago`), else a POSIX rule string (POSIX.1-2017 XBD 8.3:
 *   `UTC0`, `IST-5:30`, `CST6CDT,M3.2.0,M11.1.0` as AIX and IBM i PASE set it,
 *   `<CST>6<CDT>,M3.2.0,M11.1.0`; the offset counts hours west of UTC), else UTC, as it is
 *   without `TZ` (AIX has no `/etc/localtime`: its zone is `TZ` alone, set in
 *   `/etc/environment`). Node reads only the zone files' names, and a rule string as UTC: the
 *   fake reads the rules itself. The agent runs it with `TZ=UTC0`.
 *
 * Failures: while the partition is down (`running: false`) nothing answers; the tools exit 255
 * with `ioscli: the VIOS is not running` (a fake's wording: on a real VIOS the agent is down too).
 * A `-all` without a mapping at all prints the headers of no adapter: nothing, exit 0 (this
 * fake's reading; a VIOS always has its virtual adapters defined by its profile).
 */

const loc = (vios, slot) =>
  `U${vios.machine.replace(/^IBM,/, '').replace('-', '.')}.${vios.systemId.replace(/^IBM,../, '')}-V${vios.lpar.id}-C${slot}`;

const SVSA_HEADER = [
  'SVSA            Physloc                                      Client Partition ID',
  '--------------- -------------------------------------------- ------------------',
];

const lsmapAll = (vios) => {
  const lines = [];
  for (const vhost of vios.vhosts) {
    const client = `0x${(vhost.client ?? 0).toString(16).padStart(8, '0')}`;
    lines.push(...SVSA_HEADER, `${vhost.name.padEnd(16)}${loc(vios, vhost.slot).padEnd(45)}${client}`, '');
    if (vhost.targets.length === 0) {
      lines.push('VTD                   NO VIRTUAL TARGET DEVICE FOUND', '');
      continue;
    }
    for (const target of vhost.targets) {
      const available = target.stale !== true && (vios.configured || target.configured === true);
      lines.push(
        `VTD                   ${target.vtd}`,
        `Status                ${available ? 'Available' : 'Defined'}`,
        `LUN                   ${target.lun}`,
        `Backing device        ${target.backing}`,
        `Physloc               ${target.physloc ?? ''}`,
        `Mirrored              ${target.physloc ? 'false' : 'N/A'}`,
        '',
      );
    }
  }
  return toolResult(0, `${lines.join('\n')}\n`);
};

const lsmapNpiv = (vios) => {
  const lines = [];
  for (const vfchost of vios.vfchosts ?? []) {
    // Logged in only through a mapped port on the fabric of a VIOS that configured its devices.
    const loggedIn =
      vfchost.loggedIn && vios.configured && Boolean(vfchost.fc) && vfchost.portOnFabric !== false;
    const client = loggedIn
      ? `${String(vfchost.client).padStart(6)} ${vfchost.clientName.padEnd(14)} ${vfchost.clientOs}`
      : '';
    lines.push(
      'Name          Physloc                            ClntID ClntName       ClntOS',
      '------------- ---------------------------------- ------ -------------- -------',
      `${vfchost.name.padEnd(14)}${loc(vios, vfchost.slot).padEnd(35)}${client}`.trimEnd(),
      '',
      `Status:${loggedIn ? 'LOGGED_IN' : 'NOT_LOGGED_IN'}`,
      `FC name:${(vfchost.fc ?? '').padEnd(24)}FC loc code:${vfchost.fcLoc ?? ''}`,
      `Ports logged in:${loggedIn ? 2 : 0}`,
      `Flags:${loggedIn ? 'a<LOGGED_IN,STRIP_MERGE>' : vfchost.fc ? '4<NOT_LOGGED>' : '1<NOT_MAPPED,NOT_CONNECTED>'}`,
      `VFC client name:${(loggedIn ? 'host1' : '').padEnd(16)}VFC client DRC:${loggedIn ? loc(vios, vfchost.clientSlot ?? 4).replace(`-V${vios.lpar.id}-`, `-V${vfchost.client}-`) : ''}`,
      '',
    );
  }
  return toolResult(0, `${lines.join('\n')}\n`);
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

/** `[+-]hh[:mm[:ss]]` of a POSIX `TZ` in milliseconds, as written (positive west of UTC for an offset). */
const posixDuration = (text) => {
  const [hours = '0', minutes = '0', seconds = '0'] = text.replace(/^[+-]/, '').split(':');
  const ms = (Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds)) * 1000;
  return text.startsWith('-') ? -ms : ms;
};

/** Midnight (as UTC milliseconds of that local day) of the day a POSIX rule (`Mm.w.d`, `Jn`, `n`) names in `year`. */
const ruleDay = (year, rule) => {
  const month = /^M(\d{1,2})\.([1-5])\.([0-6])$/.exec(rule);
  if (month !== null) {
    const [m, week, weekday] = [Number(month[1]) - 1, Number(month[2]), Number(month[3])];
    const first = new Date(Date.UTC(year, m, 1)).getUTCDay();
    let day = 1 + ((weekday - first + 7) % 7) + (week - 1) * 7;
    // Week 5 is the last such weekday of the month.
    if (day > new Date(Date.UTC(year, m + 1, 0)).getUTCDate()) day -= 7;
    return Date.UTC(year, m, day);
  }
  // `Jn`: day 1 to 365, 29 February never counted; `n`: day 0 to 365, counted.
  const julian = /^J(\d{1,3})$/.exec(rule);
  if (julian === null) return Date.UTC(year, 0, 1) + Number(rule) * MS_PER_DAY;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const n = Number(julian[1]);
  return Date.UTC(year, 0, 1) + (n - 1 + (leap && n >= 60 ? 1 : 0)) * MS_PER_DAY;
};

const NAME = '(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]{3,}>)';
const OFFSET = '([+-]?\\d{1,2}(?::\\d{1,2}){0,2})';
const RULE = '(M\\d{1,2}\\.[1-5]\\.[0-6]|J\\d{1,3}|\\d{1,3})(?:/([+-]?\\d{1,3}(?::\\d{1,2}){0,2}))?';
const POSIX_TZ = new RegExp(`^${NAME}${OFFSET}(?:(${NAME})${OFFSET}?(?:,${RULE},${RULE})?)?$`);
/** A daylight-saving name with no rules takes glibc's `posixrules` (America/New_York's: the US rules since 2007). */
const DEFAULT_RULES = ['M3.2.0', undefined, 'M11.1.0', undefined];

/** The UTC offset (ms, east positive) a POSIX `TZ` rule string gives at `at`; null when it is not one. */
const posixOffset = (tz, at) => {
  const match = POSIX_TZ.exec(tz);
  if (match === null) return null;
  const [, std, dstName, dst, ...given] = match;
  const standard = -posixDuration(std);
  // No daylight name: a fixed offset (`UTC0`, `IST-5:30`).
  if (dstName === undefined) return standard;
  // A daylight name without its offset (`CST6CDT`) is an hour ahead of standard time.
  const daylight = dst === undefined ? standard + MS_PER_HOUR : -posixDuration(dst);
  const [startRule, startTime = '2', endRule, endTime = '2'] = given[0] === undefined ? DEFAULT_RULES : given;
  const year = new Date(at.getTime() + standard).getUTCFullYear();
  // The change to daylight time is at a standard local time, the change back at a daylight one.
  const start = ruleDay(year, startRule) + posixDuration(startTime) - standard;
  const end = ruleDay(year, endRule) + posixDuration(endTime) - daylight;
  const t = at.getTime();
  const inDaylight = start < end ? t >= start && t < end : !(t >= end && t < start);
  return inDaylight ? daylight : standard;
};

/** Month, day, hour and minute of `at` in the zone file `name` (an Olson name); null when there is none. */
const zoneFileFields = (name, at) => {
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    }).formatToParts(at);
  } catch {
    return null;
  }
  const field = (type) => Number(parts.find((part) => part.type === type)?.value);
  return { month: field('month') - 1, day: field('day'), hour: field('hour'), minute: field('minute') };
};

/**
 * Month, day, hour and minute of `at` in the zone `TZ` names, as the C library reads it: a zone
 * file's name first (a leading `:` says only that), then a POSIX rule string, else UTC (also
 * without `TZ`).
 */
const localFields = (at) => {
  const tz = process.env.TZ ?? '';
  const fromFile = tz === '' ? null : zoneFileFields(tz.replace(/^:/, ''), at);
  if (fromFile !== null) return fromFile;
  const offset = tz.startsWith(':') ? 0 : (posixOffset(tz, at) ?? 0);
  const local = new Date(at.getTime() + offset);
  return {
    month: local.getUTCMonth(),
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
  };
};

const whoBoot = (vios) => {
  const { month, day, hour, minute } = localFields(new Date(vios.bootedAt));
  const pad = (value) => String(value).padStart(2, '0');
  return `   .        system boot  ${MONTHS[month]} ${String(day).padStart(2)} ${pad(hour)}:${pad(minute)}\n`;
};

const down = (name) => toolResult(255, '', `${name}: the VIOS is not running\n`);

/** `ioscli` with its argument vector, on the host at `root`. */
export const ioscli = (root, argv) => {
  logServerCommand(root, ['ioscli', ...argv]);
  const vios = loadServerModel(root).vios;
  if (vios === null || vios === undefined) return toolResult(127, '', 'ioscli: not found\n');
  if (vios.running === false) return down('ioscli');
  const [command, ...rest] = argv;
  if (command !== 'lsmap') return toolResult(1, '', `ioscli: ${command ?? ''}: not simulated\n`);
  if (!rest.includes('-all'))
    return toolResult(
      1,
      '',
      'Usage: lsmap {-vadapter ServerVirtualAdapter | -plc PhysicalLocationCode | -all} [-npiv]\n',
    );
  return rest.includes('-npiv') ? lsmapNpiv(vios) : lsmapAll(vios);
};

/** `uname` with its argument vector, on the host at `root` (AIX's flags). */
export const uname = (root, argv) => {
  logServerCommand(root, ['uname', ...argv]);
  const vios = loadServerModel(root).vios;
  if (vios === null || vios === undefined) return toolResult(127, '', 'uname: not found\n');
  if (vios.running === false) return down('uname');
  switch (argv[0]) {
    case undefined:
    case '-s':
      return toolResult(0, 'AIX\n');
    case '-L':
      return toolResult(0, `${vios.lpar.id} ${vios.lpar.name}\n`);
    case '-M':
      return toolResult(0, `${vios.machine}\n`);
    case '-u':
      return toolResult(0, `${vios.systemId}\n`);
    default:
      return toolResult(
        1,
        '',
        `uname: Not a recognized flag: ${argv[0].replace(/^-/, '')}\nUsage: uname [-snlrvmapuMLFf]\n`,
      );
  }
};

/** `who` with its argument vector, on the host at `root`. */
export const who = (root, argv) => {
  logServerCommand(root, ['who', ...argv]);
  const vios = loadServerModel(root).vios;
  if (vios === null || vios === undefined) return toolResult(127, '', 'who: not found\n');
  if (vios.running === false) return down('who');
  if (argv[0] !== '-b') return toolResult(1, '', 'who: not simulated without -b\n');
  return toolResult(0, whoBoot(vios));
};

/** The VIOS IPLs: a new boot record; its target devices `Defined` until `configureVios`. */
export const iplVios = (model, bootedAt = serverNow(model)) => {
  model.vios.running = true;
  model.vios.bootedAt = bootedAt;
  model.vios.configured = false;
  for (const vhost of model.vios.vhosts) for (const target of vhost.targets) delete target.configured;
};

/**
 * The VIOS has configured its virtual devices: every target `Available` (but a stale one), its
 * NPIV clients logged in; or, given VTD names, only those targets (the rest still configuring).
 */
export const configureVios = (model, vtds) => {
  if (vtds === undefined) {
    model.vios.configured = true;
    return;
  }
  for (const vhost of model.vios.vhosts)
    for (const target of vhost.targets) if (vtds.includes(target.vtd)) target.configured = true;
};

/** A VIOS `vios2` (partition 2) of `Server-9080-M9S-SN78AB12C` serving one client by vSCSI and by NPIV. */
export const viosLayout = (options = {}) => ({
  running: true,
  lpar: { id: options.lparId ?? 2, name: options.name ?? 'vios2' },
  machine: 'IBM,9080-M9S',
  systemId: 'IBM,0278AB12C',
  bootedAt: options.bootedAt ?? Date.parse('2026-11-10T08:00:00.000Z'),
  configured: true,
  vhosts: [
    {
      name: 'vhost0',
      slot: 11,
      client: 3,
      targets: [
        {
          vtd: 'vtscsi0',
          lun: '0x8100000000000000',
          backing: 'hdisk4',
          physloc: 'U78D3.ND1.CSS1234-P1-C2-T1-W500507680B21AC1C-L0',
        },
        { vtd: 'vtscsi1', lun: '0x8200000000000000', backing: 'lnxclient07_data' },
      ],
    },
    { name: 'vhost1', slot: 12, client: 0, targets: [] },
  ],
  vfchosts: [
    {
      name: 'vfchost0',
      slot: 21,
      client: 3,
      clientName: 'lnxclient07',
      clientOs: 'Linux',
      fc: 'fcs0',
      fcLoc: 'U78D3.ND1.CSS1234-P1-C2-T1',
      loggedIn: true,
    },
  ],
});
