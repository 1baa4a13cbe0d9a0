import type { Notification, UnsignedPlan } from '../../events/index.ts';
import {
  type CoreConfig,
  type CoreInput,
  DEFAULT_CORE_CONFIG,
  type Incident,
  toMs,
} from '../../functions/core/index.ts';
import { inputTime, MemoryWorld } from './memory-world.ts';

/**
 * `faultline replay` without the file: inputs applied in order on a virtual clock (each input's
 * `receivedat`, else its `time`, never going backwards), timers due at or before an input's time
 * fired before it, and at the end the timers due by `until` (inclusive) or, without it, by the last
 * input's time. Pure: two runs over the same inputs give the same output, byte for byte.
 */

export type ReplayIncident = Pick<
  Incident,
  'id' | 'kind' | 'failureDomain' | 'status' | 'escalated' | 'affectedHosts' | 'openedAt' | 'resolvedAt'
>;
export type ReplayNotification = Pick<
  Notification,
  'incidentId' | 'time' | 'action' | 'dedupKey' | 'severity' | 'summary'
>;
export type ReplayOutput = {
  incidents: ReplayIncident[];
  plans: UnsignedPlan[];
  notifications: ReplayNotification[];
};

export type ReplayOptions = { until?: string; config?: CoreConfig };

export const replayWorld = (inputs: Iterable<CoreInput>, options: ReplayOptions = {}): MemoryWorld => {
  const world = new MemoryWorld(options.config ?? DEFAULT_CORE_CONFIG);
  const until = options.until === undefined ? undefined : toMs(options.until);
  let last: string | undefined;
  for (const input of inputs) {
    const time = inputTime(input);
    if (until !== undefined && toMs(time) > until) break;
    world.ingest(input);
    last = time;
  }
  const end = options.until ?? last;
  if (end !== undefined) world.fireDue(end);
  return world;
};

export const replayOutput = (world: MemoryWorld): ReplayOutput => ({
  incidents: [...world.incidents.values()]
    .sort((a, b) => toMs(a.openedAt) - toMs(b.openedAt) || (a.id < b.id ? -1 : 1))
    .map(({ id, kind, failureDomain, status, escalated, affectedHosts, openedAt, resolvedAt }) => ({
      id,
      kind,
      failureDomain,
      status,
      escalated,
      affectedHosts,
      openedAt,
      resolvedAt,
    })),
  plans: world.plans,
  notifications: world.notifications.map(({ incidentId, time, action, dedupKey, severity, summary }) => ({
    incidentId,
    time,
    action,
    dedupKey,
    severity,
    summary,
  })),
});

export const replay = (inputs: Iterable<CoreInput>, options: ReplayOptions = {}): ReplayOutput =>
  replayOutput(replayWorld(inputs, options));
