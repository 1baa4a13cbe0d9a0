import { join } from 'node:path';
import type { MultipathReinstateStep } from '../../../events/index.ts';
import type { MultipathMapReading, MultipathPathReading } from '../../../probes/multipath.ts';
import { pathStateOf } from '../../../probes/report-states.ts';
import { readText } from '../../scan/sysfs-reader.ts';
import { type HostAccess, readMultipath } from '../host-view.ts';
import {
  failed,
  pollUntil,
  refused,
  runAction,
  type StepContext,
  type StepResult,
  skipped,
  succeeded,
  wouldRun,
} from '../step-context.ts';

/**
 * `multipath.reinstate` (§4): `multipathd reinstate path <path>` only for a path of that map, and
 * never for a ghost (a standby path of an RDAC or ALUA array is healthy as it is: forcing it
 * active makes the array move its LUN, on every host at once).
 *
 * multipathd's `ok` says only that device-mapper took the `reinstate_path` message; the path
 * checker runs a tick later and fails the path again when its SCSI device is `offline` or its
 * target does not answer (sim/fake-host/fake-multipathd.mjs has the daemon's code paths). So the
 * step re-reads the map until the path is back, or `checkSeconds` pass and it fails with
 * `path-not-back`. Back means usable in the state a path has before an outage: dm `active`, the
 * checker `ready` (an active path) or `ghost` (a path of the standby controller, which comes back
 * as one), and its device `running`; a checker still deciding (`undef`, `i/o pending`) is not
 * back yet. A device the SCSI layer set `offline` never comes back by itself (only `scsi.online`
 * brings it back), so such a path fails at once instead of waiting out `checkSeconds`.
 */

export const MULTIPATH_REINSTATE_DEFAULTS = {
  /** §4: how long a reinstated path has to be back when the plan does not say. */
  checkSeconds: 30,
  /** How often the map is re-read: multipathd checks a reinstated path at its next one-second tick. */
  pollMs: 1_000,
} as const;

type PathReading = { map: MultipathMapReading; path: MultipathPathReading };

/** The map the step names (by alias or WWID) and the path in it, as multipathd shows them now. */
const findPath = async (
  host: HostAccess,
  step: MultipathReinstateStep,
): Promise<PathReading | { refusal: string } | null> => {
  const reading = await readMultipath(host);
  if (reading === null) return null;
  const map = reading.maps.find((candidate) => candidate.name === step.map || candidate.wwid === step.map);
  if (map === undefined) return { refusal: `multipathd shows no map ${step.map}` };
  const path = map.paths.find((candidate) => candidate.device === step.path);
  if (path === undefined) {
    return {
      refusal: `${step.path} is not a path of ${map.name} (${map.paths.map((candidate) => candidate.device ?? '#').join(', ')})`,
    };
  }
  return { map, path };
};

/** How multipathd prints a path: `active ready running`. */
const shown = (path: MultipathPathReading): string => `${path.dmState} ${path.pathState} ${path.onlineState}`;

/** Whether a path is usable again: an active path, or a ghost of the standby group, on a running device. */
const isBack = (path: MultipathPathReading): boolean => {
  const state = pathStateOf(path);
  return (
    (state === 'active' || state === 'ghost') && path.dmState === 'active' && path.onlineState === 'running'
  );
};

/** The SCSI device state of a path's disk, read from sysfs now (not multipathd's view at its last check). */
const deviceState = async (host: HostAccess, disk: string): Promise<string | null> =>
  (await readText(join(host.root, 'sys', 'block', disk, 'device', 'state')))?.trim() ?? null;

export const multipathReinstate = async (
  step: MultipathReinstateStep,
  context: StepContext,
): Promise<StepResult> => {
  const { host } = context;
  const found = await findPath(host, step);
  if (found === null) return refused('not-a-path-of-map', 'multipathd gave no topology');
  if ('refusal' in found) return refused('not-a-path-of-map', found.refusal);
  const { map, path } = found;
  const state = pathStateOf(path);
  if (state === 'ghost' || path.pathState === 'ghost') {
    return refused('ghost-path', `${step.path} is a ghost (standby) path of ${map.name}: healthy as it is`);
  }
  if (state === 'active') return skipped(`${step.path} of ${map.name} is already active`);
  const checkSeconds = step.checkSeconds ?? MULTIPATH_REINSTATE_DEFAULTS.checkSeconds;
  const args = ['reinstate', 'path', step.path];
  if (context.dryRun) {
    return wouldRun(
      `multipathd ${args.join(' ')} (${step.path} is ${shown(path)}), then re-read ${map.name} until ${step.path} is back, for up to ${checkSeconds} s`,
    );
  }
  const run = await runAction(context, 'multipathd', args);
  if (!run.ok) return run.result;
  const answer = run.result.stdout.trim() || 'ok';
  if (/^fail/i.test(answer)) return failed('tool-failed', `${run.line}: multipathd answered ${answer}`);

  const started = context.clock.now();
  const watched = await pollUntil(
    context,
    async () => ({ found: await findPath(host, step), device: await deviceState(host, step.path) }),
    (now) =>
      (now.found !== null && 'path' in now.found && isBack(now.found.path)) || now.device === 'offline',
    checkSeconds * 1000,
    MULTIPATH_REINSTATE_DEFAULTS.pollMs,
  );
  const seconds = Math.round((context.clock.now() - started) / 1000);
  const last = watched.value.found;
  if (last !== null && 'path' in last && isBack(last.path)) {
    return succeeded(
      `${run.line}: ${answer}; ${step.path} of ${map.name} is back (${shown(last.path)}) after ${seconds} s (it was ${shown(path)})`,
    );
  }
  const now =
    last === null
      ? 'multipathd gives no topology'
      : 'refusal' in last
        ? last.refusal
        : `${step.path} is ${shown(last.path)}`;
  if (watched.value.device === 'offline') {
    return failed(
      'path-not-back',
      `${run.line}: ${answer}, but the SCSI device of ${step.path} is offline: no reinstate brings it back until it is set running (scsi.online); ${now}`,
    );
  }
  return failed(
    'path-not-back',
    `${run.line}: ${answer}, but ${step.path} of ${map.name} is not back after ${checkSeconds} s: ${now} (the checker fails it again while its target does not answer)`,
  );
};
