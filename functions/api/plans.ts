import { planLinesBody, signedPlanLines } from '../../events/index.ts';
import type { HostPlan, ProjectionReader, SliceStore } from '../adapters/store/port.ts';
import type { HostSlice, PlanStatus } from '../core/index.ts';

/**
 * The plans an agent fetches (`GET /v1/agents/:hostId/plans`, docs/architecture.md §6) and how soon it
 * should ask again, as JSON or, for the sh agent, in lines (`?format=lines`, {@link plansInLines}).
 *
 * A plan is offered while it is signed and stored, not revoked, not past its TTL (the store's
 * `plansForHost`), and not finished by the host slice's account of it (succeeded, failed or
 * refused): the agent would refuse a finished plan id anyway, so offering it again only costs a
 * round trip. A plan the host slice does not know is offered only while the host's part in its
 * incident still names it (a read not yet consistent); once the incident ended, the host slice
 * forgets its plans and they are not offered again. An agent runs a plan id at most once anyway.
 *
 * An agent with work in flight — a plan to run or running, or waiting in an incident for its wave —
 * is asked to poll every few seconds; any other every minute.
 */

/** How often agents poll, by whether they have work in flight. */
export const POLL_SECONDS = { active: 5, idle: 60 } as const;

/** How long a long poll sleeps between two looks at the store, unless the deployment wakes it sooner. */
export const DEFAULT_LONG_POLL_INTERVAL_MS = 500;

const OFFERED: ReadonlySet<PlanStatus> = new Set(['issued', 'started']);
const IN_FLIGHT_EPISODE: ReadonlySet<string> = new Set(['waiting', 'planned']);

export type PlanReader = Pick<ProjectionReader, 'hostPlans'> & Pick<SliceStore, 'getSlices'>;

export interface HostPlans {
  /** Each with the signature of its lines where it has one (the sh agent's format). */
  readonly plans: HostPlan[];
  /** A plan to run or running, or the host waits in an incident for its plan. */
  readonly inFlight: boolean;
}

/** The host's slice as stored, or undefined before its first event. */
export const loadHostSlice = async (
  store: Pick<SliceStore, 'getSlices'>,
  hostId: string,
): Promise<HostSlice | undefined> => {
  const [stored] = await store.getSlices([{ kind: 'host', id: hostId }]);
  return stored?.value as HostSlice | undefined;
};

/** The plans waiting for `hostId` at `now` and whether it has work in flight. */
export const plansFor = async (store: PlanReader, hostId: string, now: string): Promise<HostPlans> => {
  const [stored, host] = await Promise.all([store.hostPlans(hostId, now), loadHostSlice(store, hostId)]);
  const known = host?.plans ?? {};
  const plans = stored.filter(({ plan }) => {
    const status = known[plan.id]?.status;
    if (status !== undefined) return OFFERED.has(status);
    // Unknown to the host slice: not yet read back (offered while the host's part in the incident
    // names it), or forgotten because its incident ended (never offered again).
    return host === undefined || host.episodes[plan.incidentId]?.planId === plan.id;
  });
  const inFlight =
    plans.length > 0 ||
    Object.values(known).some((plan) => OFFERED.has(plan.status)) ||
    Object.values(host?.episodes ?? {}).some((episode) => IN_FLIGHT_EPISODE.has(episode.status));
  return { plans, inFlight };
};

export interface PollSeconds {
  readonly active: number;
  readonly idle: number;
}

export const nextPollSeconds = (hostPlans: HostPlans, poll: PollSeconds): number =>
  hostPlans.inFlight ? poll.active : poll.idle;

/**
 * Long polling (`?wait=`), which only a deployment that may hold requests open offers (the local
 * runtime; never Lambda). `wake` lets it answer as soon as a plan is stored; without it the store
 * is read every `intervalMs`.
 */
export interface LongPollOptions {
  /** The longest wait honoured; a longer `?wait=` is cut to this. */
  readonly maxWaitSeconds: number;
  readonly intervalMs?: number;
  /**
   * Resolves when plans for `hostId` may have changed, or after `timeoutMs`, or when `signal`
   * aborts, whichever is first. Default: after `intervalMs`.
   */
  readonly wake?: (hostId: string, timeoutMs: number, signal: AbortSignal) => Promise<void>;
}

/** Sleeps `ms`, or less when `signal` aborts. */
export const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

export interface WaitForPlansDeps {
  readonly store: PlanReader;
  readonly now: () => number;
  readonly longPoll: LongPollOptions | undefined;
}

/**
 * The host's plans, waiting up to `waitSeconds` (cut to the deployment's maximum, 0 without long
 * polling) for one to appear. Answers at once when there are plans, when the wait is over, or
 * when the caller goes away (`signal`).
 */
export const waitForPlans = async (
  deps: WaitForPlansDeps,
  hostId: string,
  waitSeconds: number,
  signal: AbortSignal,
): Promise<HostPlans> => {
  const allowed = Math.min(waitSeconds, deps.longPoll?.maxWaitSeconds ?? 0);
  const deadline = deps.now() + allowed * 1000;
  let current = await plansFor(deps.store, hostId, new Date(deps.now()).toISOString());
  const longPoll = deps.longPoll;
  if (longPoll === undefined) return current;
  const interval = longPoll.intervalMs ?? DEFAULT_LONG_POLL_INTERVAL_MS;
  const wake = longPoll.wake ?? ((_host, timeoutMs, abort) => abortableSleep(timeoutMs, abort));
  while (current.plans.length === 0 && !signal.aborted) {
    const remaining = deadline - deps.now();
    if (remaining <= 0) break;
    await wake(hostId, Math.min(interval, remaining), signal);
    if (signal.aborted) break;
    current = await plansFor(deps.store, hostId, new Date(deps.now()).toISOString());
  }
  return current;
};

/**
 * The body of `GET /v1/agents/:hostId/plans?format=lines` (docs/architecture.md §6): each plan in
 * the line format of events/plan-lines.ts with its `sig` line, the signature made over exactly
 * `planLines(plan)` when the plan was issued (functions/outbox/effects.ts) and stored beside it.
 * Nothing is signed here: the API holds no key. A plan stored without a lines signature (issued
 * before plans were signed in lines, or by a signer of JSON only) is left out, and named in
 * `leftOut`: the sh agent could only refuse it.
 */
export const plansInLines = (plans: readonly HostPlan[]): { body: string; leftOut: string[] } => {
  const served: { lines: string }[] = [];
  const leftOut: string[] = [];
  for (const { plan, linesSignature } of plans) {
    if (linesSignature === undefined) {
      leftOut.push(plan.id);
      continue;
    }
    try {
      served.push({ lines: signedPlanLines(plan, linesSignature) });
    } catch {
      // A stored row the encoder refuses (it never signs such a plan): not served rather than a 500.
      leftOut.push(plan.id);
    }
  }
  return { body: planLinesBody(served), leftOut };
};
