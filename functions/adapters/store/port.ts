import type { Notification, Plan, ServerRole, UnsignedPlan } from '../../../events/index.ts';
import type {
  ControlSlice,
  DomainSlice,
  Effect,
  HostEpisodeStatus,
  HostSlice,
  Incident,
  IncidentKind,
  IncidentStatus,
  TimelineEntry,
} from '../../core/index.ts';

/**
 * The store port (docs/architecture.md §2): the state slices the core decides on, the outbox of the effects
 * it decided, the timers it set, and the projections people and agents read (incidents, their
 * affected hosts and timeline, signed plans, stats), plus the API's bearer tokens, the registry
 * of servers and their grants, and what the collect route remembers of each sh agent's host.
 *
 * Why it looks like this:
 *
 * - **Single-item conditional writes only.** DynamoDB's transactions cost double and dynalite (the
 *   emulator the tests use) has none, so every method here writes exactly one item, conditionally.
 *   A decision that changes several slices is made atomic *above* the port, by the roll-forward
 *   protocol of `functions/outbox/` (a decision record, then a lock per slice, then a commit point,
 *   then the slice writes), which every adapter therefore gets for free and which a test can crash
 *   at every single write. Adapters never decide anything; they answer `ok` or `conflict`.
 * - **Nothing grows with the fleet.** A slice is one item (a domain, a host, the control slice);
 *   incidents, affected-host rows, timeline rows, plans and decision records are items of their
 *   own. The largest outage writes more items, never a bigger one.
 * - **Projections are written from the outbox**, after the slices, idempotently: a projection
 *   write carries the `revision` of the slice that owns the row (its version after the decision),
 *   and a write older than what is stored is ignored, so an outbox drained late by sweep never
 *   rolls an incident back.
 * - **Reads are eventually consistent** where the cloud's are (DynamoDB GSIs): the slices are the
 *   truth; an index (waiting hosts, due wakes, open domains) only says which slices to load.
 *
 * Writes to the slices and the outbox go through correlate (functions/correlate/): the API never
 * writes a slice. It enqueues events and operator commands (approve, resolve, pause, resume,
 * maintenance) on the events queue, stamped with the authenticated sender, as
 * functions/correlate/messages.ts describes (`eventMessage`, `operatorCommandMessage`), and reads
 * the projections, the tokens and the host registry here (the registry is the one thing the API
 * writes besides tokens: an operator's grants, §3).
 *
 * Errors: adapters throw `StoreUnavailableError` / `StoreRejectedError` (functions/adapters/errors.ts) —
 * `store-unavailable` (retryable: throttling, network, a busy SQLite file) or `store-rejected` (an item too
 * large, a malformed request) — never a raw SDK or SQLite error. A failed condition is not an error: it is
 * the `'conflict'` answer.
 */

// ————————————————————————————————————————————— slices

/** Which slice: the one control slice, a failure domain's, or a host's. */
export type SliceRef =
  | { readonly kind: 'control' }
  | { readonly kind: 'domain'; readonly id: string }
  | { readonly kind: 'host'; readonly id: string };

export type SliceValue = ControlSlice | DomainSlice | HostSlice;

/** How many decision tokens a slice remembers (see {@link StoredSlice.applied}). */
export const APPLIED_MEMORY = 16;

/**
 * A slice as stored. `version` counts the writes that changed it (0: never written, then `value`
 * is undefined and the core starts from a fresh slice). `lock` names the decision that holds it
 * between its lock and its commit (two-phase writes of a multi-slice decision): a reader that
 * meets a lock settles that decision first (the outbox's `settle`), never reads around it.
 * `applied` lists the tokens of the last {@link APPLIED_MEMORY} decisions applied to the slice,
 * newest first: how a retried single-slice decision knows it already happened.
 */
export interface StoredSlice {
  readonly ref: SliceRef;
  readonly value: SliceValue | undefined;
  readonly version: number;
  readonly lock: string | undefined;
  readonly applied: readonly string[];
}

/** What a conditional write answers: `conflict` when its condition did not hold (nothing was written). */
export type WriteOutcome = 'ok' | 'conflict';

/** A slice's new state, as a decision writes it (the version becomes `expected + 1`). */
export interface SliceWrite {
  readonly ref: SliceRef;
  /** The version the decision read (0: it was absent). */
  readonly expected: number;
  readonly value: SliceValue;
  /** The slice's new `applied` list (the decision's token first). */
  readonly applied: readonly string[];
}

/** A timer the core set (`wakeAt` of a slice), indexed so that sweep and correlate find what is due. */
export interface Wake {
  readonly kind: 'domain' | 'host';
  readonly id: string;
  readonly at: string;
}

/**
 * The slices, read and written one item at a time. Index attributes (the wake time, whether a
 * domain has an open episode) are derived by the adapter from the value it writes, in the same
 * item, so they are never out of step with the slice.
 */
export interface SliceStore {
  /** The slices named, in the order given; an absent one as version 0 with no value. */
  getSlices(refs: readonly SliceRef[]): Promise<StoredSlice[]>;
  /**
   * The first `limit` hosts, by host id, whose affected-host row in `incidentId` says `waiting`
   * (the `waitingOf` rule of `SliceKeys`). A hint: the loaded host slice is the truth.
   */
  waitingHosts(incidentId: string, limit: number): Promise<string[]>;
  /** Every failure domain whose slice has an open episode (the `openDomains` rule of `SliceKeys`). */
  openDomains(): Promise<string[]>;
  /** Wakes due at or before `now`, earliest first, at most `limit`. */
  dueWakes(now: string, limit: number): Promise<Wake[]>;

  /** Writes a slice in one step: only if its version is `expected` and it holds no lock. */
  putSlice(write: SliceWrite): Promise<WriteOutcome>;
  /**
   * Locks a slice for a decision (phase one): only if its version is `expected` and it is unlocked
   * or already locked by `token` (idempotent). Creates a placeholder at version 0 for an absent slice.
   */
  lockSlice(ref: SliceRef, expected: number, token: string): Promise<WriteOutcome>;
  /** Writes a locked slice and releases its lock (phase two): only while `token` holds it. */
  applyLocked(write: SliceWrite, token: string): Promise<WriteOutcome>;
  /** Releases `token`'s lock on a slice, if it holds it (an aborted decision); otherwise nothing. */
  unlockSlice(ref: SliceRef, token: string): Promise<void>;
}

// ————————————————————————————————————————————— the outbox

/** An affected-host row: a host's part in an incident, projected from its slice's `episodes`. */
export interface AffectedHost {
  readonly incidentId: string;
  readonly hostId: string;
  readonly failureDomain: string;
  readonly status: HostEpisodeStatus;
  readonly joinedAt: string;
  readonly attempt: number;
  readonly planId?: string;
  readonly reason?: string;
}

/**
 * What the outbox performs. The core's effects, plus the projection of affected-host rows that
 * correlate derives from the host slices a decision changed. `revision` orders the writes of one
 * row: the version, after the decision, of the slice that owns it (the domain of an outage, the
 * host of a local or double-fault incident, the host of an affected-host row).
 */
export type OutboxEffect =
  | { readonly type: 'plan.issue'; readonly plan: UnsignedPlan }
  | { readonly type: 'plan.revoke'; readonly planId: string; readonly hostId: string }
  | { readonly type: 'notify'; readonly notification: Notification }
  | { readonly type: 'timeline'; readonly entry: TimelineEntry }
  | { readonly type: 'incident'; readonly incident: Incident; readonly revision: number }
  | { readonly type: 'affected'; readonly row: AffectedHost; readonly revision: number }
  | { readonly type: 'follow-up'; readonly input: Extract<Effect, { type: 'follow-up' }>['input'] };

/**
 * - `pending`: written, its slices being locked; may still abort (a slice moved on).
 * - `committed`: every slice locked (or, for one slice, written): it happened; roll it forward.
 * - `aborted`: a slice moved on before the commit: nothing happened; the input is decided again.
 * - `done`: slices written and every effect performed.
 */
export type DecisionStatus = 'pending' | 'committed' | 'aborted' | 'done';

/**
 * A decision record: the outbox entry of one decision, keyed by an id derived from its input (an
 * event, an operator command, a follow-up, a timer), so a redelivered input finds it. It holds
 * everything needed to finish the decision without the process that made it: the slice writes
 * with the versions they expect, and the effects. `attempt` grows each time an aborted record is
 * replaced; the lock token of an attempt is `${id}#${attempt}`.
 */
export interface DecisionRecord {
  readonly id: string;
  readonly attempt: number;
  readonly status: DecisionStatus;
  /** The decision's time (the core's `now`): follow-ups are decided at it too. */
  readonly at: string;
  /** When the record was first written (wall clock, ms): sweep leaves young records to their owner. */
  readonly createdAt: number;
  /** What was decided on, for the logs and an operator reading the table (`event mirror.degraded from h1`). */
  readonly about: string;
  readonly writes: readonly SliceWrite[];
  readonly effects: readonly OutboxEffect[];
  /** Indices of the effects performed. */
  readonly done: readonly number[];
}

export interface OutboxStore {
  /**
   * Writes a new record: only if none has its id, or, with `replacing`, only if the stored one is
   * that attempt and `aborted`. `conflict` otherwise (read it with `getDecision`).
   */
  putDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome>;
  getDecision(id: string): Promise<DecisionRecord | undefined>;
  /** Moves a record from one status to another: only if it is that attempt in status `from`. */
  setDecisionStatus(
    id: string,
    attempt: number,
    from: DecisionStatus,
    to: DecisionStatus,
  ): Promise<WriteOutcome>;
  /** Records that effect `index` was performed (idempotent). */
  markEffectDone(id: string, attempt: number, index: number): Promise<void>;
  /**
   * Records that are not `done` (nor `aborted`) and were created at or before `createdBefore` (ms):
   * half-applied decisions and undrained effects, oldest first, for sweep.
   */
  unfinishedDecisions(createdBefore: number, limit: number): Promise<DecisionRecord[]>;
  /**
   * Where the backend writes several items in one atomic step (SQLite: one transaction), a decision
   * commits in one call instead of by the lock protocol of functions/outbox/commit.ts: the record,
   * stored as `committed`, and every slice write it holds, all or nothing — only if `putDecision`
   * would accept the record and every slice is still at the version it expects and unlocked.
   * `conflict` otherwise, with nothing written. The stored record may leave its `writes` out: there
   * is nothing to roll forward. DynamoDB leaves it out (a transaction costs twice
   * the write units of the protocol's single-item writes).
   */
  readonly commitDecision?:
    | ((record: DecisionRecord, replacing?: number) => Promise<WriteOutcome>)
    | undefined;
}

// ————————————————————————————————————————————— projections

/** An incident as stored and listed: the core's row, with when Faultline first knew of it. */
export interface IncidentRecord extends Incident {
  /** When the decision that opened it was made: time to detect is `detectedAt − (downAt ?? openedAt)`. */
  readonly detectedAt: string;
  /** The revision of the last write (see {@link OutboxEffect}). */
  readonly revision: number;
}

/** A plan as stored for the agents: signed, and whether a flap revoked it before delivery. */
export interface StoredPlan {
  readonly plan: Plan;
  readonly revoked: boolean;
  readonly revokedAt?: string;
  /** The signature of its lines for the sh agent (see {@link HostPlan}), when it was signed in lines. */
  readonly linesSignature?: string;
}

/**
 * A plan an agent may fetch, with the signature of its lines (events/plan-lines.ts `planLines`,
 * base64 DER ECDSA P-256) for the sh agent's `GET /v1/agents/:hostId/plans?format=lines`. The
 * lines signature is kept beside the plan, in the same row, never inside it: the JSON plan stays
 * exactly the contract's. Absent for a plan issued before plans were signed in lines, or whose
 * signer signs JSON only: such a plan is served as JSON alone.
 */
export interface HostPlan {
  readonly plan: Plan;
  readonly linesSignature?: string;
}

/** Filters of `GET /v1/incidents` and `faultline incidents` (docs/architecture.md §6). */
export interface IncidentQuery {
  readonly status?: IncidentStatus;
  readonly domain?: string;
  /** Incidents the host is affected by (or the host of a local or double-fault incident). */
  readonly host?: string;
  /** `openedAt` at or after (RFC 3339). */
  readonly since?: string;
  /** `openedAt` at or before (RFC 3339). */
  readonly until?: string;
  /** 1–500, default 50. */
  readonly limit?: number;
  /** From the previous page; opaque. A cursor used with other filters is refused (`store-rejected`). */
  readonly cursor?: string;
}

/** A page of results, newest first for incidents, oldest first for timelines; `cursor` when there is more. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor?: string;
}

export interface PageRequest {
  /** 1–1000, default 100. */
  readonly limit?: number;
  readonly cursor?: string;
}

/** One incident with the first page of its timeline (oldest first) and of its affected hosts (by host id). */
export interface IncidentDetail {
  readonly incident: IncidentRecord;
  readonly timeline: Page<TimelineEntry>;
  readonly affectedHosts: Page<AffectedHost>;
}

/** Seconds, over the incidents that have the figure. */
export interface DurationStats {
  readonly count: number;
  readonly meanSeconds: number | null;
  readonly maxSeconds: number | null;
}

export interface DomainStats {
  readonly failureDomain: string;
  readonly incidents: number;
  readonly open: number;
  readonly resolved: number;
  readonly affectedHosts: number;
  /** `detectedAt − (downAt ?? openedAt)`. */
  readonly timeToDetect: DurationStats;
  /** `resolvedAt − (upAt ?? openedAt)`: how long healing took once the server was back. */
  readonly timeToHeal: DurationStats;
}

/** `GET /v1/stats` and `faultline stats`: incidents opened in the window. */
export interface IncidentStats {
  readonly since: string | null;
  readonly until: string | null;
  readonly incidents: number;
  readonly byStatus: Readonly<Partial<Record<IncidentStatus, number>>>;
  readonly byKind: Readonly<Partial<Record<IncidentKind, number>>>;
  readonly timeToDetect: DurationStats;
  readonly timeToHeal: DurationStats;
  readonly byDomain: readonly DomainStats[];
}

/** Written by the outbox only. Every write is idempotent. */
export interface ProjectionWriter {
  /** Upserts an incident row: ignored when the stored revision is not older. `detectedAt` is kept from the first write. */
  putIncident(incident: Incident, revision: number, detectedAt: string): Promise<void>;
  /** Upserts an affected-host row: ignored when the stored revision is not older. */
  putAffectedHost(row: AffectedHost, revision: number): Promise<void>;
  /** Appends a timeline row; the same id twice is one row. */
  putTimeline(entry: TimelineEntry): Promise<void>;
  /**
   * Stores a signed plan with the signature of its lines, when it was signed in lines (see
   * {@link HostPlan}); the first write of an id wins (a re-signed retry changes nothing).
   */
  putPlan(plan: Plan, linesSignature?: string): Promise<void>;
  /** Marks a plan revoked, whether or not it is stored yet (a revoke drained before its issue still wins). */
  revokePlan(planId: string, hostId: string, at: string): Promise<void>;
}

/** What the API, the CLI and the agents read. */
export interface ProjectionReader {
  listIncidents(query: IncidentQuery): Promise<Page<IncidentRecord>>;
  getIncident(id: string, page?: { readonly limit?: number }): Promise<IncidentDetail | undefined>;
  listTimeline(incidentId: string, page?: PageRequest): Promise<Page<TimelineEntry>>;
  listAffectedHosts(incidentId: string, page?: PageRequest): Promise<Page<AffectedHost>>;
  /** A plan by its id (its primary key), revoked or not. */
  getPlan(planId: string): Promise<StoredPlan | undefined>;
  /**
   * The plans an agent may still fetch: its own, not revoked, not past `issuedAt + ttlSeconds` at
   * `now`, oldest first. (Whether one ran is the agent's to know: a plan id runs at most once.)
   */
  plansForHost(hostId: string, now: string): Promise<Plan[]>;
  /** The same plans as {@link plansForHost}, each with the signature of its lines where it has one. */
  hostPlans(hostId: string, now: string): Promise<HostPlan[]>;
  /** Counts and durations of the incidents opened in `[since, until]` (both optional). */
  stats(window?: { readonly since?: string; readonly until?: string }): Promise<IncidentStats>;
  /** The global pause, for `GET /v1/health` and the CLI. */
  getControl(): Promise<ControlSlice>;
  /**
   * Every host slice written so far, a page at a time by host id: what the topology and a domain's
   * impact are computed from (functions/core/topology.ts). Read through an index, never a scan; a
   * hint as fresh as the index (eventually consistent on DynamoDB), each slice as last written.
   */
  listHosts(page?: PageRequest): Promise<Page<HostSlice>>;
}

// ————————————————————————————————————————————— tokens

/**
 * A bearer token as stored: only its SHA-256 (hex, see `hashToken` in ./tokens.ts), never the
 * secret. An `agent` token is bound to one host id (it may post that host's events and read its
 * plans); an `operator` token may do the rest (and post events for any host, as an HMC does).
 */
export type StoredToken =
  | {
      readonly hash: string;
      readonly kind: 'agent';
      readonly hostId: string;
      readonly createdAt: string;
      readonly label?: string;
    }
  | {
      readonly hash: string;
      readonly kind: 'operator';
      readonly createdAt: string;
      readonly label?: string;
    };

export interface TokenStore {
  /** Stores a token: `conflict` when one with that hash exists. */
  putToken(token: StoredToken): Promise<WriteOutcome>;
  getToken(hash: string): Promise<StoredToken | undefined>;
  deleteToken(hash: string): Promise<void>;
  listTokens(): Promise<StoredToken[]>;
}

// ————————————————————————————————————————————— the host registry

/**
 * A registered server (§3 "Sender binding"): the role and failure domains an operator granted a
 * host. Grants live here, on the host record, never on a token and never in what a host says of
 * itself: ingest and correlate judge a heartbeat's `role`, `serves` and `guests`, and every
 * `ipl.completed`, `domain.rebooted` and `domain.going-down`, against it. A host with no record
 * is a client. The shape is the API's `HostRecord` (events/api.ts).
 */
export interface HostRecord {
  readonly hostId: string;
  readonly role: ServerRole;
  /** The failure domains it may announce and list in its heartbeats; at least one, each once. */
  readonly serves: readonly string[];
  /** When this grant was given (RFC 3339, normalised): the later of two grants wins. */
  readonly registeredAt: string;
  /** The label of the operator token that gave it. */
  readonly registeredBy: string;
}

/**
 * The registry of servers. Few items (one per server, not per client), read once per request or
 * per batch by the checks, written only by operators.
 */
export interface HostRegistry {
  /**
   * Registers a server or replaces its grant, whole: only if no grant registered later is stored
   * (`registeredAt` not older than the stored one's), so a delayed retry never undoes a newer
   * grant; `conflict` otherwise (nothing was written).
   */
  putHostRecord(record: HostRecord): Promise<WriteOutcome>;
  /** The host's record, or undefined for a host never registered (a client). */
  getHostRecord(hostId: string): Promise<HostRecord | undefined>;
  /** Every registered server, by host id (eventually consistent on DynamoDB, like every index read). */
  listHostRecords(): Promise<HostRecord[]>;
}

// ————————————————————————————————————————————— what the collect route remembers

/**
 * What the control plane remembers of a host whose sh agent posts the raw output of its tools
 * (`POST /v1/agents/:hostId/collect`, docs/architecture.md §6): the Node agent keeps its last
 * snapshot and its detection state on the host; the sh agent keeps none, so the control plane
 * keeps them here, one record per host, replaced whole by each newer collect. The store neither
 * reads nor judges `body` (the API's JSON, functions/api/collect.ts); it orders writes by the
 * collect that made the record, so two collects of one host racing never both win.
 */
export interface CollectRecord {
  readonly hostId: string;
  /** The boot (`bootid`) and `seq` of the collect that made this record. */
  readonly bootId: string;
  readonly seq: number;
  /** When it was written (RFC 3339): a host silent past its retention is forgotten. */
  readonly storedAt: string;
  /** What the route remembers, as JSON. */
  readonly body: unknown;
}

/** The collect that made a stored record, as a conditional write names it. */
export interface CollectMark {
  readonly bootId: string;
  readonly seq: number;
}

export interface CollectStore {
  /** The host's record, or undefined before its first collect (or once forgotten). */
  getCollect(hostId: string): Promise<CollectRecord | undefined>;
  /**
   * Writes the host's record whole: only if the stored one was made by the collect `expected`
   * names, or, with `expected` undefined, only if none is stored. `conflict` otherwise (another
   * collect of the host was written meanwhile: read it again); nothing was written.
   */
  putCollect(record: CollectRecord, expected: CollectMark | undefined): Promise<WriteOutcome>;
}

// ————————————————————————————————————————————— health

/**
 * What a store says of itself to `GET /v1/health`, which anyone may call and monitors poll: whether
 * it can take writes now, and if not, why. The check is cheap (a few file-system calls, or one
 * read), so polling it costs next to nothing; `detail` is a short phrase for an unauthenticated
 * caller, never a path, an SQL text or an SDK message (those go to the logs).
 *
 * - `ok`: it answers and takes writes.
 * - `degraded`: it answers, slowly or throttled; writes may wait or be retried.
 * - `unavailable`: it cannot take writes (its file deleted, replaced or unwritable, the disk
 *   refused the last write, the table did not answer): an acknowledgement now would be a lie.
 */
export interface StoreHealth {
  readonly status: 'ok' | 'degraded' | 'unavailable';
  readonly detail?: string;
}

// ————————————————————————————————————————————— the whole store

/** One store: DynamoDB in the cloud (./dynamodb-store.ts), one SQLite file locally (./sqlite-store.ts). */
export interface Store
  extends SliceStore,
    OutboxStore,
    ProjectionWriter,
    ProjectionReader,
    TokenStore,
    HostRegistry,
    CollectStore {
  /**
   * Deletes rows past their retention (functions/adapters/store/projection.ts `RETENTION`) where
   * the backend has no TTL of its own (SQLite; sweep calls it). DynamoDB's TTL does it itself.
   */
  purgeExpired?(nowMs: number): Promise<number>;
  /**
   * The store's own state for `GET /v1/health` ({@link StoreHealth}). Optional: a store without
   * one is judged by whether reading the control slice succeeds.
   */
  health?(): Promise<StoreHealth>;
  /** Releases the connection or the file. */
  close(): Promise<void>;
}

/** The string form of a slice ref, for maps and logs: `control`, `domain:<id>`, `host:<id>`. */
export const sliceKey = (ref: SliceRef): string =>
  ref.kind === 'control' ? 'control' : `${ref.kind}:${ref.id}`;
