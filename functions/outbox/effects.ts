import { encodePlanLines, type UnsignedPlan } from '../../events/index.ts';
import type { WorkQueue } from '../adapters/queue/port.ts';
import type { PlanSigner } from '../adapters/signer/port.ts';
import type {
  AffectedHost,
  DecisionRecord,
  OutboxEffect,
  ProjectionWriter,
  SliceWrite,
  StoredSlice,
} from '../adapters/store/port.ts';
import { sliceKey } from '../adapters/store/port.ts';
import type {
  CriticalGroup,
  Decision,
  DomainSlice,
  HostEpisode,
  HostSlice,
  Incident,
  InternalInput,
} from '../core/index.ts';

/**
 * The outbox's effects: what a decision's record holds besides its slices, and how each is
 * performed. Every effect can be performed twice without harm, because the ids are derived:
 *
 * - `plan.issue`: signed (PlanSigner), as JSON and in lines for the sh agent, stored by plan id with
 *   the lines signature beside it; the first write of an id wins.
 * - `plan.revoke`: the stored plan marked revoked (a tombstone if the plan is not stored yet).
 * - `notify`: enqueued on the notify queue; notify delivers each notification id once per
 *   destination (its delivery log), so a re-enqueue after a crash pages nobody twice.
 * - `timeline`, `incident`, `affected`: projection rows, upserted by id; `incident` and
 *   `affected` carry the revision of the slice that owns them, so a late write never rolls back.
 * - `follow-up`: an input decided next, under its own derived decision id (decided once).
 *
 * Effects that cost something to repeat (a signature, a message, a decision) are marked done in
 * the record one by one as they are performed; the projection upserts are conditional and cheap,
 * and are simply written again when a record is rolled forward.
 */

export interface EffectPorts {
  readonly store: ProjectionWriter;
  readonly signer: PlanSigner;
  readonly notifyQueue: Pick<WorkQueue, 'send'>;
  /** Decides a follow-up input under its own id, at the parent's time. */
  readonly followUp: (input: InternalInput, parent: DecisionRecord, index: number) => Promise<void>;
}

/** Effects whose repetition costs a signature, a message or a decision: marked done one by one. */
export const isMarkedEffect = (effect: OutboxEffect): boolean =>
  effect.type === 'plan.issue' || effect.type === 'notify' || effect.type === 'follow-up';

/**
 * The slice whose revision an incident row carries: a local fault's host; an outage's domain; a
 * double fault's first domain, which holds it for every host it covers (docs/architecture.md §5.4).
 */
const ownerKey = (incident: Incident): string =>
  incident.kind === 'local' ? `host:${incident.hostId ?? ''}` : `domain:${incident.failureDomain}`;

const affectedRow = (hostId: string, record: HostEpisode): AffectedHost => ({
  incidentId: record.incidentId,
  hostId,
  failureDomain: record.failureDomain,
  status: record.status,
  joinedAt: record.joinedAt,
  attempt: record.attempt,
  ...(record.planId === undefined ? {} : { planId: record.planId }),
  ...(record.reason === undefined ? {} : { reason: record.reason }),
});

/**
 * The affected-host rows of the double faults a domain write changed (docs/architecture.md §5.4): a
 * host named in a double fault is `skipped` (no plan goes to it); one that left it is `healthy`.
 */
const doubleFaultRows = (domain: DomainSlice, previous: DomainSlice | undefined): AffectedHost[] => {
  const rows: AffectedHost[] = [];
  const before = new Map<string, CriticalGroup>(
    Object.values(previous?.critical ?? {}).map((group) => [group.incident.id, group]),
  );
  const after = Object.values(domain.critical ?? {});
  const row = (group: CriticalGroup, hostId: string, status: HostEpisode['status']): AffectedHost => ({
    incidentId: group.incident.id,
    hostId,
    failureDomain: group.incident.failureDomain,
    status,
    joinedAt: group.incident.openedAt,
    attempt: 0,
    reason: 'double fault',
  });
  for (const group of after) {
    const was = new Set(before.get(group.incident.id)?.hosts ?? []);
    const is = new Set(group.hosts);
    for (const hostId of group.hosts) if (!was.has(hostId)) rows.push(row(group, hostId, 'skipped'));
    for (const hostId of was) if (!is.has(hostId)) rows.push(row(group, hostId, 'healthy'));
    before.delete(group.incident.id);
  }
  // A double fault gone from the slice resolved with its last host: that host is healthy again.
  for (const group of before.values())
    for (const hostId of group.hosts) rows.push(row(group, hostId, 'healthy'));
  return rows;
};

/**
 * The outbox of a decision: the affected-host rows its host writes changed (projected from each
 * host's `episodes`), then the core's effects in the order decided, each incident with the
 * revision of the slice that owns it.
 */
export const outboxEffects = (
  decision: Decision,
  writes: readonly SliceWrite[],
  before: ReadonlyMap<string, StoredSlice>,
): OutboxEffect[] => {
  const revisions = new Map(writes.map((write) => [sliceKey(write.ref), write.expected + 1]));
  const effects: OutboxEffect[] = [];
  for (const write of writes) {
    if (write.ref.kind === 'domain') {
      const previous = before.get(sliceKey(write.ref))?.value as DomainSlice | undefined;
      const domain = write.value as DomainSlice;
      if (domain.critical === undefined && previous?.critical === undefined) continue;
      for (const row of doubleFaultRows(domain, previous)) {
        effects.push({ type: 'affected', row, revision: write.expected + 1 });
      }
      continue;
    }
    if (write.ref.kind !== 'host') continue;
    const host = write.value as HostSlice;
    const previous = (before.get(sliceKey(write.ref))?.value as HostSlice | undefined)?.episodes ?? {};
    const revision = write.expected + 1;
    for (const [incidentId, record] of Object.entries(host.episodes).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (JSON.stringify(previous[incidentId]) === JSON.stringify(record)) continue;
      effects.push({ type: 'affected', row: affectedRow(host.hostId, record), revision });
    }
  }
  for (const effect of decision.effects) {
    if (effect.type === 'incident') {
      effects.push({ ...effect, revision: revisions.get(ownerKey(effect.incident)) ?? 0 });
    } else {
      effects.push(effect);
    }
  }
  return effects;
};

/**
 * The signature of a plan's lines for the sh agent (events/plan-lines.ts), made once, as the plan
 * is issued, by the same signer. None when the plan cannot be written in lines (the encoder refuses a value an agent would split differently; the contract's
 * names never are one): the plan is still stored and served as JSON, and simply not in lines.
 * The plan is the core's own, of the contract's type, so it is encoded as it is (`encodePlanLines`:
 * for a plan within the contract, the bytes `planLines` gives) without a parse per plan of a wave;
 * the route still parses each plan it serves in lines.
 */
const linesSignatureOf = async (signer: PlanSigner, plan: UnsignedPlan): Promise<string | undefined> => {
  let lines: string;
  try {
    lines = encodePlanLines(plan);
  } catch {
    return undefined;
  }
  return signer.signLines(lines);
};

/** Performs one effect of a record (see the module's notes on idempotency). */
export const performEffect = async (
  ports: EffectPorts,
  record: DecisionRecord,
  index: number,
  effect: OutboxEffect,
): Promise<void> => {
  switch (effect.type) {
    case 'plan.issue': {
      const signed = await ports.signer.sign(effect.plan);
      await ports.store.putPlan(signed, await linesSignatureOf(ports.signer, effect.plan));
      return;
    }
    case 'plan.revoke':
      await ports.store.revokePlan(effect.planId, effect.hostId, record.at);
      return;
    case 'notify':
      await ports.notifyQueue.send({ body: JSON.stringify(effect.notification) });
      return;
    case 'timeline':
      await ports.store.putTimeline(effect.entry);
      return;
    case 'incident': {
      const { incident, revision } = effect;
      await ports.store.putIncident(incident, revision, record.at);
      if (incident.kind !== 'outage' && incident.hostId !== undefined) {
        // A local or double-fault incident is about one host: its row lists it as affected.
        await ports.store.putAffectedHost(
          {
            incidentId: incident.id,
            hostId: incident.hostId,
            failureDomain: incident.failureDomain,
            status: incident.status === 'resolved' ? 'healthy' : 'skipped',
            joinedAt: incident.openedAt,
            attempt: 0,
            ...(incident.resource === undefined ? {} : { reason: incident.resource }),
          },
          revision,
        );
      }
      return;
    }
    case 'affected':
      await ports.store.putAffectedHost(effect.row, effect.revision);
      return;
    case 'follow-up':
      await ports.followUp(effect.input, record, index);
      return;
  }
};
