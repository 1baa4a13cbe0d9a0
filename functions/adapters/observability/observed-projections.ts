import type { Incident, TimelineEntry } from '../../core/index.ts';
import type { OutboxStore, ProjectionWriter, SliceStore } from '../store/port.ts';
import type { Metrics } from './metrics-port.ts';

/**
 * What a deciding handler (correlate, sweep) tells of the decisions it performs, seen where the
 * outbox writes them: the store's projection writes. The engine (functions/outbox/) performs each
 * effect through the store it is given; handed this view of the store instead, every write goes
 * through unchanged and, as it is written:
 *
 * - an incident written by the decision that opened it is *opened*: a local fault or a double
 *   fault opened at the decision's time (`openedAt`); an outage (opened at its `downAt`, the
 *   first symptom's time) written by a decision that also wrote its first `down` entry this
 *   process saw; a timeline entry that marks a moment (`kind`: down, up, canary,
 *   wave, healthy, halted, escalated, operator, resolved) is that change. Each is one `info` log
 *   line, `{message, incident, change, host?, at}`, whose `message` reads as a sentence (the local
 *   runtime's terminal prints just that), and one `faultline_incident_changes_total`;
 * - a plan stored is *issued*, a plan revoked *revoked*, an affected host with a plan that turns
 *   healthy *healed* and one that fails *failed* (`faultline_plans_total`).
 *
 * The effects of one decision may be performed again (a record rolled forward after a crash):
 * an incident's opening is told once per process (a bounded memory of the ones told), the other
 * writes as often as they are performed. Metrics are a view, not a ledger.
 */

/** The store the decision engine needs. */
export type EngineStore = SliceStore & OutboxStore & ProjectionWriter;

type Log = (entry: Readonly<Record<string, unknown>>) => void;

/** How many incident ids the view remembers having told opened. */
const REMEMBERED_OPENINGS = 1_000;
/** The longest summary an opening's line repeats (the incident holds it whole). */
const MAX_SUMMARY_CHARS = 160;

const shortened = (text: string): string =>
  text.length <= MAX_SUMMARY_CHARS ? text : `${text.slice(0, MAX_SUMMARY_CHARS - 1)}…`;

export const observedProjections = (
  store: EngineStore,
  observers: { readonly metrics: Metrics; readonly log: Log },
): EngineStore => {
  const { metrics, log } = observers;
  const told = new Set<string>();
  /** Outages whose `down` entry the decision being performed wrote, by the decision's time. */
  const downAt = new Map<string, string>();
  const remember = <T>(memory: Set<string> | Map<string, T>, key: string, value?: T): void => {
    if (memory instanceof Set) memory.add(key);
    else memory.set(key, value as T);
    if (memory.size > REMEMBERED_OPENINGS) {
      const [oldest] = memory.keys();
      if (oldest !== undefined) memory.delete(oldest);
    }
  };
  const change = (
    incidentId: string,
    kind: string,
    message: string,
    at: string,
    hostId: string | undefined,
  ): void => {
    metrics.count('incidentChanges', { change: kind });
    log({
      level: 'info',
      message,
      incident: incidentId,
      change: kind,
      at,
      ...(hostId === undefined ? {} : { host: hostId }),
    });
  };
  const opened = (incident: Incident, at: string): void => {
    const downFirst = downAt.get(incident.id);
    downAt.delete(incident.id);
    if (told.has(incident.id) || incident.status === 'resolved') return;
    const opening = incident.kind === 'outage' ? downFirst === at : incident.openedAt === at;
    if (!opening) return;
    remember(told, incident.id);
    change(
      incident.id,
      'opened',
      `${incident.kind} opened on ${incident.failureDomain}: ${shortened(incident.summary)}`,
      at,
      incident.hostId,
    );
  };
  const timeline = (entry: TimelineEntry): void => {
    if (entry.kind === undefined) return;
    if (entry.kind === 'down' && !told.has(entry.incidentId)) remember(downAt, entry.incidentId, entry.at);
    change(entry.incidentId, entry.kind, entry.text, entry.at, entry.hostId);
  };

  return {
    getSlices: store.getSlices.bind(store),
    waitingHosts: store.waitingHosts.bind(store),
    openDomains: store.openDomains.bind(store),
    dueWakes: store.dueWakes.bind(store),
    putSlice: store.putSlice.bind(store),
    lockSlice: store.lockSlice.bind(store),
    applyLocked: store.applyLocked.bind(store),
    unlockSlice: store.unlockSlice.bind(store),
    putDecision: store.putDecision.bind(store),
    getDecision: store.getDecision.bind(store),
    setDecisionStatus: store.setDecisionStatus.bind(store),
    markEffectDone: store.markEffectDone.bind(store),
    unfinishedDecisions: store.unfinishedDecisions.bind(store),
    commitDecision: store.commitDecision?.bind(store),
    putIncident: async (incident, revision, detectedAt) => {
      await store.putIncident(incident, revision, detectedAt);
      opened(incident, detectedAt);
    },
    putAffectedHost: async (row, revision) => {
      await store.putAffectedHost(row, revision);
      if (row.planId === undefined) return;
      if (row.status === 'healthy') metrics.count('plans', { outcome: 'healed' });
      else if (row.status === 'failed') metrics.count('plans', { outcome: 'failed' });
    },
    putTimeline: async (entry) => {
      await store.putTimeline(entry);
      timeline(entry);
    },
    putPlan: async (plan, linesSignature) => {
      await store.putPlan(plan, linesSignature);
      metrics.count('plans', { outcome: 'issued' });
    },
    revokePlan: async (planId, hostId, at) => {
      await store.revokePlan(planId, hostId, at);
      metrics.count('plans', { outcome: 'revoked' });
    },
  };
};
