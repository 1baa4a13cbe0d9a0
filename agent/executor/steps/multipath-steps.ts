import type { MultipathReinstateStep } from '../../../events/index.ts';
import { pathStateOf } from '../../../probes/report-states.ts';
import { readMultipath } from '../host-view.ts';
import {
  failed,
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
 */
export const multipathReinstate = async (
  step: MultipathReinstateStep,
  context: StepContext,
): Promise<StepResult> => {
  const reading = await readMultipath(context.host);
  if (reading === null) return refused('not-a-path-of-map', 'multipathd gave no topology');
  const map = reading.maps.find((candidate) => candidate.name === step.map || candidate.wwid === step.map);
  if (map === undefined) return refused('not-a-path-of-map', `multipathd shows no map ${step.map}`);
  const path = map.paths.find((candidate) => candidate.device === step.path);
  if (path === undefined) {
    return refused(
      'not-a-path-of-map',
      `${step.path} is not a path of ${map.name} (${map.paths.map((candidate) => candidate.device ?? '#').join(', ')})`,
    );
  }
  const state = pathStateOf(path);
  if (state === 'ghost' || path.pathState === 'ghost') {
    return refused('ghost-path', `${step.path} is a ghost (standby) path of ${map.name}: healthy as it is`);
  }
  if (state === 'active') return skipped(`${step.path} of ${map.name} is already active`);
  const args = ['reinstate', 'path', step.path];
  if (context.dryRun) return wouldRun(`multipathd ${args.join(' ')} (${step.path} is ${state})`);
  const run = await runAction(context, 'multipathd', args);
  if (!run.ok) return run.result;
  const answer = run.result.stdout.trim();
  if (/^fail/i.test(answer)) return failed('tool-failed', `${run.line}: multipathd answered ${answer}`);
  return succeeded(`${run.line}: ${answer || 'ok'} (${step.path} was ${state})`);
};
