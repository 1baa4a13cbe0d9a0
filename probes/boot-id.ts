import { BootId } from '../events/index.ts';

/**
 * The host's boot id (docs/architecture.md §3 `bootid`, compared only for equality): a plan is accepted only
 * on the boot it was made for. Linux gives one in `/proc/sys/kernel/random/boot_id`; where that is
 * missing (a sosreport without it, an old kernel) the boot time in `/proc/stat` (`btime`) names the
 * boot as well.
 */

/** The boot id from `/proc/sys/kernel/random/boot_id`, or null when the text is not one. */
export const parseBootId = (text: string): BootId | null => {
  const bootId = text.trim().toLowerCase();
  return BootId.safeParse(bootId).success ? bootId : null;
};

/** `btime-<seconds since the epoch>` from the `btime` line of `/proc/stat`, or null. */
export const bootIdFromProcStat = (text: string): BootId | null => {
  const seconds = /^btime\s+(\d{1,15})\s*$/m.exec(text)?.[1];
  return seconds === undefined ? null : `btime-${seconds}`;
};

/**
 * The boot id of a host whose boot cannot be named (a tree with neither file): such a snapshot
 * cannot tell one boot from the next, so the scan reports it with a warning.
 */
export const UNKNOWN_BOOT_ID = 'unknown' as const;
