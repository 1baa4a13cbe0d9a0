import { parseLsmap, parseLsmapNpiv, viosServing } from '../../probes/vios-lsmap.ts';
import type { ServingCheckConfig } from '../config.ts';
import { describeResult, type RunServerCommand } from './server-commands.ts';

/**
 * Whether a hosting partition serves its clients again (docs/architecture.md §5.2): it lists its
 * domain in `serves`, and announces its IPL, only once this passes, never merely because it booted.
 *
 * - `vios`: `ioscli lsmap -all` and `ioscli lsmap -all -npiv`, judged by probes/vios-lsmap.ts
 *   `viosServing`: something serves (a virtual target device `Available`, a virtual FC adapter its
 *   client logged in through) and what served when this VIOS last served (its record, kept in the
 *   state directory) is back, or the boot is past {@link VIOS_SERVING}`.configureGraceSeconds`
 *   (then what is still missing is left over: ignored, with a warning). A target that did not serve
 *   when it last served (a stale mapping left `Defined`) is never waited for.
 * - a command: exit 0 means serving; any other exit, not serving.
 *
 * A check that could not run says nothing (`unknown`): `lsmap` timed out, failed or is missing, the
 * command timed out, was killed or is missing. The hosting role then keeps the last answer of this
 * boot (hosting-role.ts).
 */

/** Whether it serves; `unknown` when the check could not run. */
export type ServingState = 'serving' | 'not-serving' | 'unknown';

export type ServingResult = {
  state: ServingState;
  detail: string;
  /** A VIOS that serves: what to remember as serving (`vtd:`, `vfchost:` units). */
  record?: string[];
  /** A VIOS that serves: what it serves without, each with why (left-over targets...). */
  ignored?: string[];
};

/** What a check weighs besides its own commands. */
export type ServingContext = {
  now: Date;
  /** This boot's time (RFC 3339), when known. */
  bootedAt: string | undefined;
  /** A VIOS: what served when it last served (serve.json), null when nothing is recorded. */
  servedBefore: readonly string[] | null;
};

export type ServingCheck = (context: ServingContext) => Promise<ServingResult>;

export const VIOS_SERVING = {
  /** `lsmap` on a VIOS with thousands of devices takes its time. */
  commandTimeoutMs: 60_000,
  /**
   * How long after its boot a VIOS may still be configuring its virtual devices (cfgmgr in the
   * boot, a shared storage pool's targets once its cluster is up): until then a target that served
   * before and is still `Defined` means not serving yet; after it, such a target is left over (its
   * backing device gone) and serving waits for it no longer. Within §5.9's default 30-minute
   * escalation of a server that stays down, with a VIOS's own boot before it.
   */
  configureGraceSeconds: 900,
} as const;

const couldNotRun = (result: { exitCode: number | null; timedOut: boolean; missing: boolean }): boolean =>
  result.timedOut || result.missing || result.exitCode === null;

const plural = (count: number, one: string, many: string): string => `${count} ${count === 1 ? one : many}`;

export const createServingCheck = (check: ServingCheckConfig, run: RunServerCommand): ServingCheck => {
  if (check === 'vios') {
    return async ({ now, bootedAt, servedBefore }) => {
      const vscsiArgv = ['ioscli', 'lsmap', '-all'];
      const vscsi = await run(vscsiArgv, { timeoutMs: VIOS_SERVING.commandTimeoutMs });
      const npivArgv = ['ioscli', 'lsmap', '-all', '-npiv'];
      const npiv = await run(npivArgv, { timeoutMs: VIOS_SERVING.commandTimeoutMs });
      const bootedAtMs = bootedAt === undefined ? Number.NaN : Date.parse(bootedAt);
      const settled = now.getTime() - bootedAtMs >= VIOS_SERVING.configureGraceSeconds * 1000;
      const verdict = viosServing(
        vscsi.exitCode === 0 ? parseLsmap(vscsi.stdout) : null,
        npiv.exitCode === 0 ? parseLsmapNpiv(npiv.stdout) : null,
        { servedBefore, settled },
      );
      const failures = [
        ...(vscsi.exitCode === 0 ? [] : [describeResult(vscsiArgv, vscsi)]),
        ...(npiv.exitCode === 0 ? [] : [describeResult(npivArgv, npiv)]),
      ];
      if (verdict.verdict === 'unknown') {
        return {
          state: 'unknown',
          detail: `lsmap: ${[...failures, ...verdict.reasons].slice(0, 5).join('; ')}`,
        };
      }
      if (verdict.verdict === 'not-serving') {
        return { state: 'not-serving', detail: `lsmap: ${verdict.reasons.slice(0, 5).join('; ')}` };
      }
      const targets = verdict.serving.filter((unit) => unit.startsWith('vtd:')).length;
      const logins = verdict.serving.length - targets;
      const served = `${plural(targets, 'virtual target device', 'virtual target devices')} Available, ${plural(logins, 'virtual FC client', 'virtual FC clients')} logged in`;
      const unread = failures.length === 0 ? '' : `; ${failures.join('; ')}`;
      return {
        state: 'serving',
        detail: `lsmap: ${served}${unread}`,
        record: verdict.record,
        ignored: verdict.ignored,
      };
    };
  }
  return async () => {
    const result = await run(check.command, { timeoutMs: check.timeoutSeconds * 1000 });
    const detail = describeResult(check.command, result);
    if (result.exitCode === 0) return { state: 'serving', detail };
    return { state: couldNotRun(result) ? 'unknown' : 'not-serving', detail };
  };
};
