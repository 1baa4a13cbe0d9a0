/**
 * `who -b`: the time of the last system boot, from the boot record `init` wrote to utmp when the
 * system came up. AIX (and the VIOS under it) and Solaris print it without a year and to the
 * minute, in local time:
 *
 * ```
 *    .        system boot  Nov 22 03:10
 * ```
 *
 * GNU `who` (Linux) prints `         system boot  2026-11-22 03:10`. The record is written once per
 * boot and no clock step rewrites it, so on a platform whose kernel publishes no boot id it names
 * the boot (the kernel's own boot time, now minus uptime, moves when NTP steps the clock).
 *
 * The time is a local time in a zone the text does not name, so the agent runs `who` with
 * `TZ=UTC0` ({@link WHO_BOOT_TZ}) and reads what it prints as UTC, whatever its own zone. `UTC0` is
 * a POSIX zone string (a name, `UTC`, and an offset, 0) that every C library reads as UTC, AIX's and
 * IBM i PASE's included. The agent's own `TZ` would not do: AIX and PASE usually set a POSIX rule
 * string (`CST6CDT,M3.2.0,M11.1.0`) that `who` reads and Node does not (it takes it for UTC).
 *
 * The key is the text as printed, in UTC, which names the boot: AIX's `who` prints in UTC without
 * `TZ` too, so this is the key an agent that ran `who` with no `TZ` recorded for the same boot.
 */

/** The `TZ` `who -b` runs with: its output is UTC. */
export const WHO_BOOT_TZ = 'UTC0';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;

/** The boot as `who -b` names it: when (to the minute) and a key that names this boot. */
export type WhoBoot = { bootedAt: Date; key: string };

const MS_PER_DAY = 86_400_000;

const pad = (value: number) => String(value).padStart(2, '0');

/**
 * Reads `who -b` as printed in UTC (run with {@link WHO_BOOT_TZ}). A date without a year is placed
 * in the latest year that does not put it more than a day after `now` (a boot on 31 December read
 * on 1 January is last year's). Null when no `system boot` line is there.
 */
export const parseWhoBoot = (text: string, now: Date): WhoBoot | null => {
  const line = /system boot\s+(.+?)\s*$/m.exec(text)?.[1];
  if (line === undefined) return null;
  const iso = /^(\d{4})-(\d{2})-(\d{2})\s+(\d{1,2}):(\d{2})/.exec(line);
  const monthDay = /^([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})/.exec(line);
  let year: number;
  let month: number;
  let day: number;
  let hour: number;
  let minute: number;
  if (iso !== null) {
    [year, month, day, hour, minute] = [
      Number(iso[1]),
      Number(iso[2]) - 1,
      Number(iso[3]),
      Number(iso[4]),
      Number(iso[5]),
    ];
  } else if (monthDay !== null) {
    month = MONTHS.indexOf((monthDay[1] ?? '').toLowerCase() as (typeof MONTHS)[number]);
    if (month < 0) return null;
    [day, hour, minute] = [Number(monthDay[2]), Number(monthDay[3]), Number(monthDay[4])];
    year = now.getUTCFullYear();
    if (Date.UTC(year, month, day, hour, minute) > now.getTime() + MS_PER_DAY) year -= 1;
  } else {
    return null;
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59) return null;
  const bootedAt = new Date(Date.UTC(year, month, day, hour, minute));
  if (Number.isNaN(bootedAt.getTime()) || bootedAt.getUTCDate() !== day) return null;
  return { bootedAt, key: `who-${year}${pad(month + 1)}${pad(day)}${pad(hour)}${pad(minute)}` };
};
