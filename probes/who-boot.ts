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
 * The key is the text as printed, so it names the boot as long as `who` prints in one zone. The
 * time is local time in a zone the text does not name: it is the true instant only when read in
 * the zone `who` printed it in. AIX's `who` takes its zone from `TZ` (UTC without one), so the agent
 * runs it with its own `TZ` (agent/serve/server-commands.ts) and reads it here in its own zone; and
 * where a zone-free boot time exists (Linux `btime`, AIX uptime) the agent reports that instead.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;

/** The boot as `who -b` names it: when (local time, to the minute) and a key that names this boot. */
export type WhoBoot = { bootedAt: Date; key: string };

const MS_PER_DAY = 86_400_000;

/**
 * Reads `who -b`. A date without a year is placed in the latest year that does not put it more
 * than a day after `now` (a boot on 31 December read on 1 January is last year's). Null when no
 * `system boot` line is there. The time is read in this process's local zone: `who` must have
 * printed it in the same one (run with this process's `TZ`).
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
    year = now.getFullYear();
    if (new Date(year, month, day, hour, minute).getTime() > now.getTime() + MS_PER_DAY) year -= 1;
  } else {
    return null;
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59) return null;
  const bootedAt = new Date(year, month, day, hour, minute);
  if (Number.isNaN(bootedAt.getTime()) || bootedAt.getDate() !== day) return null;
  return { bootedAt, key: whoBootKey(year, month, day, hour, minute) };
};

const pad = (value: number) => String(value).padStart(2, '0');

/** The key of a boot record printed as `year`, `month` (0-11), `day`, `hour`, `minute`. */
const whoBootKey = (year: number, month: number, day: number, hour: number, minute: number): string =>
  `who-${year}${pad(month + 1)}${pad(day)}${pad(hour)}${pad(minute)}`;

/**
 * The key `who -b` gives a boot at `bootedAt` when it prints in UTC: what an agent that ran `who`
 * without `TZ` (before it passed its own) recorded, so that the boot it announced then is still
 * known as announced.
 */
export const whoBootKeyInUtc = (bootedAt: Date): string =>
  whoBootKey(
    bootedAt.getUTCFullYear(),
    bootedAt.getUTCMonth(),
    bootedAt.getUTCDate(),
    bootedAt.getUTCHours(),
    bootedAt.getUTCMinutes(),
  );
