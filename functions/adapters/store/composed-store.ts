import type { Plan } from '../../../events/index.ts';
import type { ControlSlice, HostSlice, Incident, TimelineEntry } from '../../core/index.ts';
import type {
  AffectedHost,
  CollectMark,
  CollectRecord,
  CollectStore,
  DecisionRecord,
  DecisionStatus,
  HostPlan,
  HostRecord,
  HostRegistry,
  IncidentDetail,
  IncidentQuery,
  IncidentRecord,
  IncidentStats,
  OutboxStore,
  Page,
  PageRequest,
  ProjectionReader,
  ProjectionWriter,
  SliceRef,
  SliceStore,
  SliceWrite,
  Store,
  StoredPlan,
  StoredSlice,
  StoredToken,
  TokenStore,
  Wake,
  WriteOutcome,
} from './port.ts';

/**
 * The whole `Store` composed of one object per sub-port, as each backend provides them
 * (./sqlite/, ./dynamodb/): the delegation is written once here, and so is what the port defines
 * in terms of its own methods (the global pause is the control slice's value), so that a backend
 * holds only the primitives of each sub-port.
 */

/**
 * A backend's sub-ports. `getControl` is not among them: it is read from the control slice; nor is
 * `plansForHost`: it is `hostPlans` without the lines signatures.
 */
export interface StoreParts {
  readonly slices: SliceStore;
  readonly outbox: OutboxStore;
  readonly projections: ProjectionWriter;
  readonly reader: Omit<ProjectionReader, 'getControl' | 'plansForHost'>;
  readonly tokens: TokenStore;
  readonly hosts: HostRegistry;
  readonly collects: CollectStore;
}

/**
 * A `Store` that delegates each method to its backend's sub-port; subclasses (`SqliteStore`,
 * `DynamoDbStore`) add what belongs to the backend as a whole: its options, `close`, and, where
 * the backend has no TTL, `purgeExpired`.
 */
export abstract class ComposedStore implements Store {
  readonly #slices: SliceStore;
  readonly #outbox: OutboxStore;
  readonly #projections: ProjectionWriter;
  readonly #reader: Omit<ProjectionReader, 'getControl' | 'plansForHost'>;
  readonly #tokens: TokenStore;
  readonly #hosts: HostRegistry;
  readonly #collects: CollectStore;
  /** The backend's atomic commit, when it has one (see `OutboxStore.commitDecision`). */
  readonly commitDecision: OutboxStore['commitDecision'];

  protected constructor(parts: StoreParts) {
    this.commitDecision = parts.outbox.commitDecision?.bind(parts.outbox);
    this.#slices = parts.slices;
    this.#outbox = parts.outbox;
    this.#projections = parts.projections;
    this.#reader = parts.reader;
    this.#tokens = parts.tokens;
    this.#hosts = parts.hosts;
    this.#collects = parts.collects;
  }

  /** Releases the connection or the file. */
  abstract close(): Promise<void>;

  // ——————————————————————————————————————— slices

  getSlices(refs: readonly SliceRef[]): Promise<StoredSlice[]> {
    return this.#slices.getSlices(refs);
  }

  waitingHosts(incidentId: string, limit: number): Promise<string[]> {
    return this.#slices.waitingHosts(incidentId, limit);
  }

  openDomains(): Promise<string[]> {
    return this.#slices.openDomains();
  }

  dueWakes(now: string, limit: number): Promise<Wake[]> {
    return this.#slices.dueWakes(now, limit);
  }

  putSlice(write: SliceWrite): Promise<WriteOutcome> {
    return this.#slices.putSlice(write);
  }

  lockSlice(ref: SliceRef, expected: number, token: string): Promise<WriteOutcome> {
    return this.#slices.lockSlice(ref, expected, token);
  }

  applyLocked(write: SliceWrite, token: string): Promise<WriteOutcome> {
    return this.#slices.applyLocked(write, token);
  }

  unlockSlice(ref: SliceRef, token: string): Promise<void> {
    return this.#slices.unlockSlice(ref, token);
  }

  // ——————————————————————————————————————— the outbox

  putDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    return this.#outbox.putDecision(record, replacing);
  }

  getDecision(id: string): Promise<DecisionRecord | undefined> {
    return this.#outbox.getDecision(id);
  }

  setDecisionStatus(
    id: string,
    attempt: number,
    from: DecisionStatus,
    to: DecisionStatus,
  ): Promise<WriteOutcome> {
    return this.#outbox.setDecisionStatus(id, attempt, from, to);
  }

  markEffectDone(id: string, attempt: number, index: number): Promise<void> {
    return this.#outbox.markEffectDone(id, attempt, index);
  }

  unfinishedDecisions(createdBefore: number, limit: number): Promise<DecisionRecord[]> {
    return this.#outbox.unfinishedDecisions(createdBefore, limit);
  }

  // ——————————————————————————————————————— projections

  putIncident(incident: Incident, revision: number, detectedAt: string): Promise<void> {
    return this.#projections.putIncident(incident, revision, detectedAt);
  }

  putAffectedHost(row: AffectedHost, revision: number): Promise<void> {
    return this.#projections.putAffectedHost(row, revision);
  }

  putTimeline(entry: TimelineEntry): Promise<void> {
    return this.#projections.putTimeline(entry);
  }

  putPlan(plan: Plan, linesSignature?: string): Promise<void> {
    return this.#projections.putPlan(plan, linesSignature);
  }

  revokePlan(planId: string, hostId: string, at: string): Promise<void> {
    return this.#projections.revokePlan(planId, hostId, at);
  }

  listIncidents(query: IncidentQuery): Promise<Page<IncidentRecord>> {
    return this.#reader.listIncidents(query);
  }

  getIncident(id: string, page?: { readonly limit?: number }): Promise<IncidentDetail | undefined> {
    return this.#reader.getIncident(id, page);
  }

  listTimeline(incidentId: string, page?: PageRequest): Promise<Page<TimelineEntry>> {
    return this.#reader.listTimeline(incidentId, page);
  }

  listAffectedHosts(incidentId: string, page?: PageRequest): Promise<Page<AffectedHost>> {
    return this.#reader.listAffectedHosts(incidentId, page);
  }

  getPlan(planId: string): Promise<StoredPlan | undefined> {
    return this.#reader.getPlan(planId);
  }

  async plansForHost(hostId: string, now: string): Promise<Plan[]> {
    return (await this.#reader.hostPlans(hostId, now)).map((stored) => stored.plan);
  }

  hostPlans(hostId: string, now: string): Promise<HostPlan[]> {
    return this.#reader.hostPlans(hostId, now);
  }

  stats(window?: { readonly since?: string; readonly until?: string }): Promise<IncidentStats> {
    return this.#reader.stats(window);
  }

  listHosts(page?: PageRequest): Promise<Page<HostSlice>> {
    return this.#reader.listHosts(page);
  }

  /** The control slice's value; never written, it is not paused. */
  async getControl(): Promise<ControlSlice> {
    const [control] = await this.getSlices([{ kind: 'control' }]);
    return (control?.value as ControlSlice | undefined) ?? { paused: false };
  }

  // ——————————————————————————————————————— tokens

  putToken(token: StoredToken): Promise<WriteOutcome> {
    return this.#tokens.putToken(token);
  }

  getToken(hash: string): Promise<StoredToken | undefined> {
    return this.#tokens.getToken(hash);
  }

  deleteToken(hash: string): Promise<void> {
    return this.#tokens.deleteToken(hash);
  }

  listTokens(): Promise<StoredToken[]> {
    return this.#tokens.listTokens();
  }

  // ——————————————————————————————————————— the host registry

  putHostRecord(record: HostRecord): Promise<WriteOutcome> {
    return this.#hosts.putHostRecord(record);
  }

  getHostRecord(hostId: string): Promise<HostRecord | undefined> {
    return this.#hosts.getHostRecord(hostId);
  }

  listHostRecords(): Promise<HostRecord[]> {
    return this.#hosts.listHostRecords();
  }

  // ——————————————————————————————————————— what the collect route remembers

  getCollect(hostId: string): Promise<CollectRecord | undefined> {
    return this.#collects.getCollect(hostId);
  }

  putCollect(record: CollectRecord, expected: CollectMark | undefined): Promise<WriteOutcome> {
    return this.#collects.putCollect(record, expected);
  }
}
