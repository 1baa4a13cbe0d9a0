import { readFile } from 'node:fs/promises';
import { uptime } from 'node:os';
import { join } from 'node:path';
import type { Platform } from '../../events/index.ts';
import {
  identityOfDomain,
  type PartitionIdentity,
  partitionIdentity,
  partitionNameFromUnameL,
} from '../../probes/partition-identity.ts';
import { parseWhoBoot } from '../../probes/who-boot.ts';
import { describeResult, type RunServerCommand } from './server-commands.ts';

/**
 * What a server reads of itself: its partition's name and managed system (a hosting partition's
 * failure domain), and its boot: a key that names this boot and changes with the next one, and
 * the kernel's boot time for `bootedAt`.
 *
 * A new boot is a changed boot key, never a changed boot time: an NTP step moves the kernel's boot
 * time (`btime` is derived from the clock), so a partition that announced its IPL would announce
 * it again after every step. Linux names each boot with `/proc/sys/kernel/random/boot_id`; AIX,
 * the VIOS and IBM i PASE have no such id, and there the boot record of `who -b` (written once
 * when the system came up, never moved by a clock step) names the boot.
 *
 * The boot time is read where no time zone comes into it: Linux's `btime` in `/proc/stat`, else
 * now minus the uptime. On AIX and the VIOS Node's `os.uptime()` is `time(NULL)` minus the utmp
 * boot record's `ut_time` (libuv, src/unix/aix.c): the very record `who -b` prints, in seconds since
 * the epoch instead of a local time to the minute. Only where there is no uptime (IBM i PASE:
 * libuv's src/unix/ibmi.c has none, `os.uptime()` throws) is the time `who -b` prints read: the
 * command runner runs `who` with `TZ=UTC0` (server-commands.ts), and its output is read as UTC, so
 * the agent's own `TZ` never comes into it (probes/who-boot.ts).
 */

/** How the server reaches its host; tests and the simulated fleet give their own. */
export type ServerTools = {
  run: RunServerCommand;
  /**
   * Seconds since boot (`os.uptime()`): the boot time, zone-free, where the kernel publishes no
   * `btime`. May throw where the platform has none (IBM i PASE).
   */
  uptimeSeconds?: () => number;
  /** Reads a file under the configured root, null when absent. */
  readFile?: (path: string) => Promise<string | null>;
};

const readFileOrNull = async (path: string): Promise<string | null> => {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
};

/** Boot ids the agent derived from uptime (identity.ts) where the kernel publishes none. */
const DERIVED_BOOT_ID = /^boot-\d+$/;

export type BootReading = {
  /** Names this boot; another boot has another key. */
  bootKey: string;
  /** The kernel's boot time (RFC 3339), when it could be read. */
  bootedAt: string | undefined;
};

/** Boot times are reported to the second (AIX's uptime counts whole seconds): no finer unit is true. */
const MS_PER_SECOND = 1000;

/**
 * Reads this boot. `bootId` is the agent's envelope boot id (identity.ts): the kernel's boot id
 * on Linux, which is the key; elsewhere one derived from uptime, which an NTP step moves, so the
 * `who -b` boot record is the key when it reads. The boot time: `btime`, else now minus the
 * uptime, else the `who -b` record (see the module's comment).
 */
export const readBoot = async (
  context: { platform: Platform; root: string; bootId: string; now: Date },
  tools: ServerTools,
): Promise<BootReading> => {
  const read = tools.readFile ?? readFileOrNull;
  const fromUptime = (): string | undefined => {
    try {
      const seconds = (tools.uptimeSeconds ?? uptime)();
      if (!Number.isFinite(seconds) || seconds < 0) return undefined;
      const bootedAtMs = context.now.getTime() - seconds * MS_PER_SECOND;
      return new Date(Math.round(bootedAtMs / MS_PER_SECOND) * MS_PER_SECOND).toISOString();
    } catch {
      return undefined;
    }
  };
  // The kernel's boot id is the key; a derived one moves with the clock, the boot record does not.
  const derived = DERIVED_BOOT_ID.test(context.bootId);
  let boot: ReturnType<typeof parseWhoBoot> = null;
  if (context.platform !== 'linux' || derived) {
    const who = await tools.run(['who', '-b'], { timeoutMs: 10_000 });
    boot = who.exitCode === 0 ? parseWhoBoot(who.stdout, context.now) : null;
  }
  let btime: string | undefined;
  if (context.platform === 'linux') {
    const stat = await read(join(context.root, 'proc', 'stat'));
    const seconds = stat === null ? undefined : /^btime\s+(\d{1,15})\s*$/m.exec(stat)?.[1];
    btime = seconds === undefined ? undefined : new Date(Number(seconds) * MS_PER_SECOND).toISOString();
  }
  const bootedAt = btime ?? fromUptime() ?? boot?.bootedAt.toISOString();
  const bootKey = derived && boot !== null ? boot.key : context.bootId;
  return { bootKey, bootedAt };
};

export type IdentityResult = { ok: true; identity: PartitionIdentity } | { ok: false; reason: string };

/**
 * The hosting partition's identity: the configured failure domain, else derived from the
 * partition's own name and managed system (AIX and VIOS by `uname`, Linux on PowerVM from the
 * device tree). IBM i PASE and Solaris offer neither reliably: there the configuration names it.
 */
export const hostingIdentity = async (
  context: { platform: Platform; root: string; configured: string | undefined },
  tools: ServerTools,
): Promise<IdentityResult> => {
  if (context.configured !== undefined) {
    const identity = identityOfDomain(context.configured);
    return identity === null
      ? { ok: false, reason: `hosting.failureDomain ${context.configured} is not vscsi:<system>/<partition>` }
      : { ok: true, identity };
  }
  const read = tools.readFile ?? readFileOrNull;
  if (context.platform === 'linux') {
    const tree = join(context.root, 'proc', 'device-tree');
    const [name, model, systemId] = await Promise.all([
      read(join(tree, 'ibm,partition-name')),
      read(join(tree, 'model')),
      read(join(tree, 'system-id')),
    ]);
    if (name === null || model === null || systemId === null) {
      return {
        ok: false,
        reason: `no ibm,partition-name, model or system-id under ${tree} (not a PowerVM partition?): set hosting.failureDomain`,
      };
    }
    const identity = partitionIdentity(name, model, systemId);
    return identity === null
      ? {
          ok: false,
          reason: `the device tree names no partition and system Faultline can use: set hosting.failureDomain`,
        }
      : { ok: true, identity };
  }
  if (context.platform === 'aix') {
    const commands = [
      ['uname', '-L'],
      ['uname', '-M'],
      ['uname', '-u'],
    ];
    const outputs: string[] = [];
    for (const argv of commands) {
      const result = await tools.run(argv, { timeoutMs: 10_000 });
      if (result.exitCode !== 0)
        return { ok: false, reason: `${describeResult(argv, result)}: set hosting.failureDomain` };
      outputs.push(result.stdout);
    }
    const [lpar = '', model = '', systemId = ''] = outputs;
    const name = partitionNameFromUnameL(lpar);
    if (name === null) {
      return {
        ok: false,
        reason: `uname -L says '${lpar.trim()}': not a partition name Faultline can use; set hosting.failureDomain`,
      };
    }
    const identity = partitionIdentity(name, model, systemId);
    return identity === null
      ? { ok: false, reason: 'uname -M and -u name no machine type and serial: set hosting.failureDomain' }
      : { ok: true, identity };
  }
  return {
    ok: false,
    reason: `on ${context.platform} the agent cannot read its partition name and managed system: set hosting.failureDomain`,
  };
};
