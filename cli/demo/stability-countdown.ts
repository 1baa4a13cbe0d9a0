import { type CoreConfig, DEFAULT_CORE_CONFIG, runbookOf } from '../../functions/core/index.ts';
import type { IncidentSummary } from '../../sim/control-plane-client.ts';

/**
 * How long until a domain that is back is stable and its plans go out (docs/architecture.md §5.5):
 * the control plane sends an outage's first plan only once its domain has stayed up for the
 * stability period (60 s by default) and, when its clients lost paths, not before multipathd had
 * its own chance to reinstate them (`goUp` in functions/core/episodes.ts); the first sweep past that
 * moment sends them. The API does not say when that is, so the demo counts from the incident's
 * `upAt` with the timings of the control plane's `faultline.json` (`faultline demo --config`, the
 * file `faultline up` reads): the countdown is as right as that file.
 */

/** The core's timings the countdown needs. */
export type StabilityTimings = Pick<
  CoreConfig,
  'stabilitySeconds' | 'pathReinstateDelaySeconds' | 'runbooks'
>;

export const DEFAULT_STABILITY_TIMINGS: StabilityTimings = {
  stabilitySeconds: DEFAULT_CORE_CONFIG.stabilitySeconds,
  pathReinstateDelaySeconds: DEFAULT_CORE_CONFIG.pathReinstateDelaySeconds,
  runbooks: DEFAULT_CORE_CONFIG.runbooks,
};

/**
 * When an incident's domain is stable and its first plans may go out (ms since the epoch), or
 * undefined while nothing waits for that moment (its domain not back, the incident over or
 * halted). `hasPaths`: its hosts lost multipath paths.
 */
export const stableAt = (
  incident: Pick<IncidentSummary, 'upAt' | 'status'>,
  timings: StabilityTimings,
  hasPaths: boolean,
): number | undefined => {
  if (incident.upAt === undefined || incident.upAt === null) return undefined;
  // Resolved, nothing is left to send; halted, nothing is sent until an operator resumes it.
  if (incident.status === 'resolved' || incident.status === 'halted') return undefined;
  const waitSeconds = Math.max(timings.stabilitySeconds, hasPaths ? timings.pathReinstateDelaySeconds : 0);
  return Date.parse(incident.upAt) + waitSeconds * 1000;
};

/** What happens once the domain is stable, by the mode of its runbook (§5.7). */
export const afterStability = (
  incident: Pick<IncidentSummary, 'id' | 'failureDomain'>,
  timings: StabilityTimings,
): string => {
  switch (timings.runbooks[runbookOf(incident.failureDomain)]) {
    case 'approve':
      return `its plans wait for \`faultline approve ${incident.id}\``;
    case 'dry-run':
      return 'its plans are proposed, not run (dry-run)';
    case 'auto':
      return 'its plans go out, a canary first';
  }
};
