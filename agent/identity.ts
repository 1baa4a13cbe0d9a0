import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { uptime } from 'node:os';
import { join } from 'node:path';
import { BootId } from '../events/index.ts';
import { parseWhoBoot, WHO_BOOT_TZ } from '../probes/who-boot.ts';

/**
 * Who is speaking: the host (configured), this boot of it, and this agent instance. The cloud
 * orders a host's events by `(bootid, seq)`; it tells two machines apart by instance id, which a
 * cloned image would otherwise share with its source.
 */

/** The identity every event of this agent carries. */
export type AgentIdentity = {
  hostId: string;
  bootId: string;
  /** Regenerated when the host looks cloned: its machine id or host id changed under the state. */
  instanceId: string;
  /** `/etc/machine-id` where there is one. */
  machineId: string | undefined;
};

/** Where the kernel publishes a random id per boot (Linux). */
const LINUX_BOOT_ID = join('proc', 'sys', 'kernel', 'random', 'boot_id');
const MACHINE_ID_FILES = [join('etc', 'machine-id'), join('var', 'lib', 'dbus', 'machine-id')] as const;
/** Boot times derived from uptime are rounded to this, so one boot keeps one id despite jitter. */
export const DERIVED_BOOT_ID_GRANULARITY_SECONDS = 60;

const readTrimmed = (path: string): string | undefined => {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text.length > 0 ? text : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The boot id: Linux's random `boot_id` under `root`, else (AIX, IBM i PASE, Solaris) one derived
 * from the boot time, which stays equal for one boot and changes with the next.
 */
export const readBootId = (
  root: string,
  now: Date = new Date(),
  uptimeSeconds: number | (() => number) = uptime,
  bootedAtFromRecord: (now: Date) => Date | null = whoBootedAt,
): string => {
  const linux = readTrimmed(join(root, LINUX_BOOT_ID));
  if (linux !== undefined && BootId.safeParse(linux).success) return linux;
  try {
    return deriveBootId(now, typeof uptimeSeconds === 'number' ? uptimeSeconds : uptimeSeconds());
  } catch {
    // IBM i PASE: libuv has no uptime there (`os.uptime()` throws ENOSYS); the boot record has it.
    const bootedAt = bootedAtFromRecord(now);
    if (bootedAt === null) return UNKNOWN_BOOT;
    return deriveBootId(now, (now.getTime() - bootedAt.getTime()) / 1000);
  }
};

/** The boot id of an agent that can read no boot time at all: it still runs, as one boot. */
const UNKNOWN_BOOT = 'boot-unknown';

/**
 * The boot time `who -b` prints (IBM i PASE and AIX: `system boot  Dec  3 05:12`), run with
 * `TZ=UTC0` and read as UTC (probes/who-boot.ts): the agent's own `TZ`, on PASE a POSIX rule
 * string like `CST6CDT,M3.2.0,M11.1.0`, is one Node reads as UTC. Null if it cannot be run.
 * `searchPath` is where `who` is looked for (tests give their fake's).
 */
export const whoBootedAt = (now: Date, searchPath: readonly string[] = WHO_SEARCH_PATH): Date | null => {
  try {
    const output = execFileSync('who', ['-b'], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { PATH: searchPath.join(':'), LC_ALL: 'C', LANG: 'C', TZ: WHO_BOOT_TZ },
    });
    return parseWhoBoot(output, now)?.bootedAt ?? null;
  } catch {
    return null;
  }
};

const WHO_SEARCH_PATH = ['/QOpenSys/usr/bin', '/usr/bin', '/bin'] as const;

/** A boot id from the boot time, for platforms with no `boot_id`: `boot-<epoch seconds>`. */
export const deriveBootId = (now: Date, uptimeSeconds: number): string => {
  const bootedAtSeconds = Math.floor(now.getTime() / 1000 - uptimeSeconds);
  const rounded =
    Math.round(bootedAtSeconds / DERIVED_BOOT_ID_GRANULARITY_SECONDS) * DERIVED_BOOT_ID_GRANULARITY_SECONDS;
  return `boot-${rounded}`;
};

/** `/etc/machine-id` (or D-Bus's copy) under `root`; undefined where the platform has none. */
export const readMachineId = (root: string): string | undefined => {
  for (const file of MACHINE_ID_FILES) {
    const id = readTrimmed(join(root, file));
    if (id !== undefined && /^[0-9a-f]{32}$/i.test(id)) return id.toLowerCase();
  }
  return undefined;
};

/** What the state file recorded about the machine the last agent ran on. */
export type RecordedIdentity = { instanceId: string; hostId: string; machineId?: string | undefined };

export type InstanceDecision =
  | { instanceId: string; regenerated: false }
  | {
      instanceId: string;
      regenerated: true;
      reason: 'first-start' | 'machine-id-changed' | 'host-id-changed';
      /** True when the state (spool, last snapshot) belonged to another machine and must not be sent as ours. */
      inheritedState: boolean;
    };

/**
 * Keeps the recorded instance id unless the host looks cloned: the machine id or the host id no
 * longer match what the state recorded. Pure: the new id comes from `newInstanceId`.
 */
export const decideInstance = (
  recorded: RecordedIdentity | undefined,
  observed: { hostId: string; machineId: string | undefined },
  newInstanceId: () => string = randomUUID,
): InstanceDecision => {
  if (recorded === undefined) {
    return { instanceId: newInstanceId(), regenerated: true, reason: 'first-start', inheritedState: false };
  }
  if (
    recorded.machineId !== undefined &&
    observed.machineId !== undefined &&
    recorded.machineId !== observed.machineId
  ) {
    return {
      instanceId: newInstanceId(),
      regenerated: true,
      reason: 'machine-id-changed',
      inheritedState: true,
    };
  }
  if (recorded.hostId !== observed.hostId) {
    return {
      instanceId: newInstanceId(),
      regenerated: true,
      reason: 'host-id-changed',
      inheritedState: true,
    };
  }
  return { instanceId: recorded.instanceId, regenerated: false };
};
