import { z } from 'zod';
import {
  type ArrayReport,
  type DiskReport,
  FailureDomain,
  type FaultlineEvent,
  HostId,
  Identifier,
  type Member,
  type Notification,
  type PathState,
  type ReplicaReport,
  Rfc3339,
  TokenId,
  TokenLabel,
  type UnsignedPlan,
} from '../../events/index.ts';

/**
 * The state slices of docs/architecture.md §2. Nothing here grows with the size of the fleet: a domain slice
 * holds its episode, at most `maxPlansInFlight` wave slots and a few counters; a host slice holds its
 * own resources. The rows that do grow — which hosts an incident affects, its timeline — are kept
 * apart: affected hosts are projected from each host slice's `episodes`, the timeline is an effect.
 */

/** Per-resource last-writer-wins mark: `seq` is strictly increasing per agent across restarts. */
export type Watermark = { bootid: string; seq: number };

export type ArrayHealth = 'healthy' | 'degraded' | 'recovering';

export type ArrayRecord = {
  array: string;
  kind: ArrayReport['kind'];
  level: string;
  members: Member[];
  /**
   * Every member seen since the array was last healthy, so a member the tool no longer shows
   * (removed) is still known to belong, with its disk and failure domain, when it is added back.
   */
  known: Member[];
  health: ArrayHealth;
  uuid?: string;
  bitmap?: boolean;
  watermark: Watermark;
  changedAt: string;
};

/**
 * When a path left the healthy states (./path-loss.ts): the first report out of them (`seq`, `at`)
 * since the last that showed it healthy, and, when one did, that report's state (`from`: `active` or
 * `ghost`) and `seq`. A leg the outage took `offline` was healthy until it; one offline before is not.
 */
export type PathLoss = { seq: number; at: string; from?: PathState; healthySeq?: number };

export type PathRecord = {
  map: string;
  wwid: string;
  path: string;
  hctl: string;
  failureDomain: string;
  state: PathState;
  activePaths?: number;
  /** While the path is out of the healthy states: since when, and from which. */
  lost?: PathLoss;
  watermark: Watermark;
  changedAt: string;
};

/** A host's part in one incident; projected as the incident's affected-host row. */
/**
 * `waiting`, `planned`, `failed` and `proposed` (a dry-run plan ran) count as unhealthy in the
 * domain's episode; `healthy` and `skipped` (paged on its own: a double fault, or no safe plan) do not.
 */
export type HostEpisodeStatus = 'waiting' | 'planned' | 'healthy' | 'failed' | 'proposed' | 'skipped';
export type HostEpisode = {
  incidentId: string;
  failureDomain: string;
  status: HostEpisodeStatus;
  joinedAt: string;
  attempt: number;
  planId?: string;
  reason?: string;
  /** The host's `lastSeenAt` when its silence during this incident escalated (§5.9): once per silence. */
  silentSince?: string;
  /**
   * The host's highest `seq` when it was marked healthy here: a report it sent before that (a late
   * heartbeat from the plan's own work) is no relapse (§5.8), whatever order it arrives in.
   */
  healthySeq?: number;
};

export type PlanStatus = 'issued' | 'started' | 'succeeded' | 'failed' | 'refused' | 'revoked';
export type HostPlan = {
  id: string;
  incidentId: string;
  failureDomain: string;
  wave: number;
  mode: UnsignedPlan['mode'];
  issuedAt: string;
  status: PlanStatus;
  stepCount: number;
  fastPathCount: number;
  /** What the plan changed so far, in order: what a page says when a human must take over. */
  changed: string[];
  lastProgressAt: string;
  /**
   * No progress for this long (no step started or finished, no rise in a resync's synced sectors),
   * or this long after its steps succeeded with the host still unhealthy, escalates (§5.9).
   */
  stallSeconds?: number;
  /** The synced sectors each array's resync last reported during the plan: a rise is progress. */
  syncedSectors?: Record<string, number>;
  /** Whether this plan already escalated its incident (so its timer is not set again). */
  escalated?: boolean;
};

export type IncidentKind = 'outage' | 'local' | 'double-fault';
export type IncidentStatus = 'open' | 'awaiting-recovery' | 'remediating' | 'halted' | 'resolved';

/** The incident row, as `faultline incidents` and `GET /v1/incidents` show it. */
export type Incident = {
  id: string;
  kind: IncidentKind;
  failureDomain: string;
  status: IncidentStatus;
  escalated: boolean;
  /** How many hosts it affects (the hosts themselves are rows kept apart). */
  affectedHosts: number;
  openedAt: string;
  resolvedAt: string | null;
  /** The host of a local or double-fault incident; absent for an outage. */
  hostId?: string;
  /** The array or path a local or double-fault incident is about. */
  resource?: string;
  summary: string;
  /** Whether a trigger was sent, so that its resolve is sent once and only then. */
  paged: boolean;
  /**
   * The `sequence` of the incident's latest notification (its count of notifications so far): the
   * next one carries this plus one, so that notify keeps each destination's pages in the order they
   * were made. Absent until the first one, and on an incident saved before notifications had it.
   */
  notificationSequence?: number;
  downAt?: string;
  upAt?: string | null;
};

/** One domain a host serves, and when it last said so (see `HostSlice.served`). */
export type ServedDomain = {
  /**
   * When the host last vouched for the domain: the latest heartbeat that listed it in `serves`, or,
   * for a host whose heartbeats carry no `serves`, its announcement (then any of its events vouches).
   */
  vouchedAt: string;
  /** Whether the host's latest word lists it (its latest heartbeat with `serves`, or its announcement). */
  listed: boolean;
  /** The boot and `seq` of the latest heartbeat or announcement that listed it: a listing from another boot is a new boot (§5.2). */
  boot: string;
  seq: number;
  /** The `vouchedAt` its silence already took the domain down at: a silence takes it down once. */
  silentAt?: string;
};

/** A guest's virtual disks from one report of its control domain (see `HostSlice.vdisks`). */
export type GuestDisks = {
  control: string;
  /** The control domain's heartbeat that reported them, and when it was received. */
  seq: number;
  at: string;
  /** The failure domain serving each disk, by the guest's name for it. */
  domains: Record<string, string>;
};

/**
 * How a control domain's latest report lists a guest (see `GuestClaim`): `active` there (`ldm list
 * -p`; or its agent does not say), listed but `inactive` (bound or inactive there: a standby's copy),
 * or `gone` (its report no longer lists the guest).
 */
export type GuestListing = 'active' | 'inactive' | 'gone';

/**
 * One unbroken active listing of a guest by a control domain, ended (see `GuestClaim.runs`): from its
 * first active word to the last moment it is known to have listed the guest active.
 */
export type GuestRun = {
  since: string;
  /** Its last heartbeat known to list the guest active (`previousAt` of the word that ended it). */
  until: string;
  /** When it stopped standing: the word that said otherwise, or just after its last word lapsed. */
  endedAt: string;
};

/**
 * One control domain's latest word on a guest (see `HostSlice.vdiskClaims`, ./guests.ts), with its
 * active listings before it: the guest's owner follows from these, whatever order they came in.
 */
export type GuestClaim = {
  /** The control domain's heartbeat that said it, and when it was received. */
  seq: number;
  at: string;
  listing: GuestListing;
  /** When it began to list the guest active without a break (its claim's age); `at` otherwise. */
  since: string;
  /**
   * The failure domain of each disk as it last listed the guest active (none before it did): what it
   * places while it owns the guest, through a stop of the guest too.
   */
  domains: Record<string, string>;
  /** With no newer word from it by then, its claim has lapsed (its silence). */
  lapsesAt: string;
  /**
   * Its active listings that ended, oldest first, at most `GUEST_CLAIM.keptRuns` (the oldest two are
   * then taken as one, as if it had listed the guest active between them). Absent: none, or saved before.
   */
  runs?: GuestRun[];
};

/**
 * A server whose silence for a domain fell due while the domain was up (./servers.ts): it takes the
 * domain down only once one of the domain's clients is heard, never on a lost contact with them all.
 */
export type PendingSilence = {
  /** The boot that last listed the domain, its last vouch, and when its silence fell due. */
  boot: string;
  vouchedAt: string;
  dueAt: string;
  /** The server still heartbeats but no longer lists the domain (its serving check fails). */
  stillHeard: boolean;
};

/** One probe of a disk as a client reported it (§3 `disk.probed`, heartbeat `disks`). */
export type DiskProbe = {
  seq: number;
  at: string;
  /** The device is `running` and a direct read of its first block succeeded. */
  reads: boolean;
  wwid?: string;
  /** The md superblock uuid of each partition `mdadm --examine` read, by partition (`disk.probed` only). */
  uuids?: Record<string, string>;
};

/** A lone symptom waiting out the hold-down, or paged as a local fault. */
export type LocalFault = { resource: string; failureDomain: string; since: string; incident?: Incident };

export type HostSlice = {
  hostId: string;
  role?: 'client' | 'hosting' | 'control';
  platform?: string;
  bootId?: string;
  lastSeenAt?: string;
  intervalSeconds?: number;
  /** Ingest time minus agent time, from the latest heartbeat: corrects agent clocks. Unknown before one. */
  skewMs?: number;
  capabilities?: string[];
  /**
   * The failure domains this host serves (§3 "Who says a server is down or back"), each with when it
   * last vouched for it: learned from its heartbeats' `serves` (within its grant: ingest refuses more)
   * and from its own agent's announcements. Its silence, for one domain or all, takes that domain down.
   */
  served?: Record<string, ServedDomain>;
  /**
   * The `seq` of the latest heartbeat that carried `serves`: that heartbeat says which domains the
   * host serves now. Unset while its heartbeats carry none (an older agent): its announcements teach
   * the domains then, and any event of the host vouches for them.
   */
  servesSeq?: number;
  /**
   * Before `served`: the one domain a hosting partition announced. Read (as an announced domain) and
   * replaced by `served` on the host's next decision; never written.
   */
  serves?: string;
  /** The domains whose known clients count this host (`DomainSlice.clients`). */
  clientOf?: Record<string, true>;
  /**
   * An LDoms guest's virtual disks as its control domain last reported them (heartbeat `guests`,
   * ./guests.ts): the failure domain of each disk by the guest's name for it (`c0d1`), given to the
   * members and disks its own agent could not place (`local:<hostId>`). Its domains load with the slice.
   */
  vdisks?: GuestDisks;
  /**
   * On an LDoms guest: each control domain's latest word on it, by control domain (./guests.ts): the
   * one that owns it places it (`vdisks`), and keeps it until it no longer lists it active (or its
   * word lapsed) and another began listing it active after it last did; the others' are kept,
   * unapplied. Absent on a slice saved before: `vdisks` then stands for its control domain's claim.
   */
  vdiskClaims?: Record<string, GuestClaim>;
  /**
   * On an LDoms guest: the open incidents already told that more than one control domain lists it
   * active, and which of those control domains each was told of (each said once per incident).
   */
  vdiskContested?: Record<string, string[]>;
  /**
   * On a control domain: a digest of each guest's disks in its latest heartbeat `guests`, that
   * heartbeat's `seq` and when it was received (`at`), so that only a guest whose disks changed is
   * told (./guests.ts); `renewedAt`: when it last told every guest it lists active anew, unchanged or
   * not (its claims' renewal); `ignored`: how many guests that heartbeat named beyond
   * `GUEST_CLAIM.maxGuestsPerReport` (absent: none), left untold.
   */
  guests?: {
    seq: number;
    at?: string;
    digests: Record<string, string>;
    renewedAt?: string;
    ignored?: number;
  };
  /**
   * The latest probes of disks that hold a faulty, missing or Maintenance member (heartbeat `disks`
   * with `deviceState`/`readable`, `disk.probed` without `planid`), the last two per disk by `seq`:
   * what the single-client rules of §5.3 read.
   */
  probes?: Record<string, DiskProbe[]>;
  maintenance: boolean;
  arrays: Record<string, ArrayRecord>;
  paths: Record<string, PathRecord>;
  disks: Record<string, DiskReport>;
  /**
   * The state database replicas per slice of the latest heartbeat (by `seq`) that carried storage:
   * what the svm-ldoms planner reads to re-create replicas a returned disk keeps in error. Absent
   * when that heartbeat had none (an older agent, or `metadb` unread): no restore is planned then.
   */
  replicas?: ReplicaReport[];
  episodes: Record<string, HostEpisode>;
  plans: Record<string, HostPlan>;
  localFaults: Record<string, LocalFault>;
  doubleFaults: Record<string, Incident>;
  /**
   * The domains this host is listed on as exposed (its last good copy or usable path depends on
   * that domain alone), and whether it is named there or only counted beyond its group's bound (with
   * the group it is counted in; a bare `counted` is from before groups were counted one by one).
   */
  exposedOn?: Record<string, 'listed' | 'counted' | { counted: string }>;
  /** The highest `seq` seen from this host, and the boot it came from. */
  lastSeq?: number;
  heartbeatDigest?: string;
  heartbeatSeq?: number;
  wakeAt?: string;
};

export type WaveSlot = {
  hostId: string;
  planId: string;
  issuedAt: string;
  expiresAt: string;
  started: boolean;
};

export type Episode = {
  incident: Incident;
  downAt: string;
  /** The latest time the domain went down (differs from downAt after a flap). */
  lastDownAt: string;
  downReason: string;
  upAt?: string;
  dispatchAt?: string;
  /** Affected hosts not yet healthy (or failed, needing a human). */
  unhealthy: number;
  /** Affected hosts waiting for a plan. */
  waiting: number;
  /** Affected hosts left to a person (a double fault, or no safe plan): the resolve says so. */
  skipped?: number;
  wave: number;
  dispatched: number;
  canaryHost?: string;
  canaryDone: boolean;
  /** Approve mode: the highest wave an operator approved (-1: none). */
  approvedWave: number;
  slots: Record<string, WaveSlot>;
  halted?: { at: string; reason: string; untilResumed: boolean };
  flaps: string[];
  hasPaths: boolean;
  /** The server announced it (`domain.going-down`) before anything else took it down: pages `info` until it runs long. */
  announced?: boolean;
  /**
   * When the outage's first page goes out: the grouping window after it went down, so that an
   * announcement delivered late, but made first, still makes it an announced outage (§5.8, §5.9).
   */
  pageAt?: string;
  /**
   * An outage of one host (§5.3): the domain's only known client cannot read its member's disks and
   * no agent of its server heartbeats. Only its server's announcement, a new boot of a server, or two
   * successive probes that read each of these disks with the expected identity bring it up.
   */
  singleClient?: { hostId: string; disks: { disk: string; wwid?: string }[] };
  /**
   * The server whose silence (or whose heartbeats no longer listing the domain) took it down, and
   * the boot it was in: that server listing the domain again in the same boot brings it back.
   */
  downBy?: { hostId: string; boot: string };
  /**
   * The counted clients that confirmed the domain back since it went down, and when (./confirm.ts):
   * it is up once `minClientsForOutage` of them did. At most that many are kept.
   */
  confirmedBy?: Record<string, string>;
};

/**
 * A double fault (§5.4) of one set of failure domains (a pair, for a mirror over two servers): one
 * incident and one page for every array or map that lost its last good copy or path on them. Kept
 * on the slice of the first domain of the set; the hosts are named up to a bound, then counted.
 */
export type CriticalGroup = {
  incident: Incident;
  domains: string[];
  hosts: string[];
  beyond: number;
};

/**
 * Hosts exposed on a domain (§5.4, before planned maintenance): each has an array or map whose
 * remaining good copies or usable paths all depend on this domain, by the set of domains it spans
 * (its critical group's key). Each group names its first hosts up to a bound and counts the rest in
 * `beyondOf`, so every group (every pair of domains) has a host to page for it; `beyond` is the
 * total counted past the bounds (and, from before groups were counted one by one, those of no group).
 */
export type Exposed = { groups: Record<string, string[]>; beyond: number; beyondOf?: Record<string, number> };

export type DomainSlice = {
  failureDomain: string;
  state: 'up' | 'down';
  maintenance: boolean;
  serverHost?: string;
  /**
   * The hosts whose latest word is that they serve this domain and that have not gone silent for it
   * (bounded): "an agent of the server heartbeats" of §5.3.
   */
  servers?: string[];
  /**
   * The hosts known to have storage on this domain (arrays or paths): the first few by name, and
   * how many in all. A domain whose count is 1 has a single client (§5.3).
   */
  clients?: { hosts: string[]; count: number };
  /**
   * Servers whose silence fell due while the domain was up, by host id (bounded): the silence takes
   * the domain down once a client of the domain is heard, not while the control plane hears none.
   */
  silentServers?: Record<string, PendingSilence>;
  /** Symptoms from clients within the grouping window while the domain is up (bounded). */
  recentSymptoms: { hostId: string; at: string }[];
  /** Hosts with an open local fault on this domain (bounded), merged into an outage if one opens. */
  localHosts: string[];
  episode?: Episode;
  /** When the server last announced it was back (`ipl.completed`, `domain.rebooted`). */
  lastUpAt?: string;
  /** The episode that ended last, kept whole so a symptom that happened during it can reopen it. */
  lastResolved?: { incidentId: string; resolvedAt: string; episode: Episode };
  /** Hosts whose last good copy or path depends on this domain alone: paged at once if it goes down. */
  exposed?: Exposed;
  /** Open double faults whose domain set starts with this domain, by the set's key. */
  critical?: Record<string, CriticalGroup>;
  wakeAt?: string;
};

export type ControlSlice = { paused: boolean; pausedAt?: string };

/** What `decide` and `tick` read and write. A slice absent from a set is fresh (never seen). */
export type Slices = {
  control: ControlSlice;
  domains: Record<string, DomainSlice>;
  hosts: Record<string, HostSlice>;
};

/**
 * What the loader fetches for an input: the control slice; `hosts`; `domains` plus every domain a
 * loaded host refers to (`referencedDomains`); for each domain of `waitingOf`, the first
 * `waitingBatch(config)` hosts waiting for a plan in its open incident, by host id, with their
 * domains; and with `openDomains`, every domain that has an open episode.
 */
export type SliceKeys = { hosts: string[]; domains: string[]; waitingOf: string[]; openDomains: boolean };

export type TimelineEntry = {
  id: string;
  incidentId: string;
  at: string;
  hostId?: string;
  text: string;
  /** The moments a reader draws on a time axis (the web page); other entries have none. */
  kind?: TimelineKind;
};

/**
 * What a timeline entry marks: the failure domain going down (or flapping) and coming back, the
 * canary's plan and each wave's, a host healthy again, a halt, an escalation, an operator's
 * action, the incident resolved.
 */
export type TimelineKind =
  | 'down'
  | 'up'
  | 'canary'
  | 'wave'
  | 'healthy'
  | 'halted'
  | 'escalated'
  | 'operator'
  | 'resolved';

/** Effects are data, performed from the outbox after the slices are saved. */
export type Effect =
  | { type: 'plan.issue'; plan: UnsignedPlan }
  | { type: 'plan.revoke'; planId: string; hostId: string }
  | { type: 'notify'; notification: Notification }
  | { type: 'timeline'; entry: TimelineEntry }
  | { type: 'incident'; incident: Incident }
  | { type: 'follow-up'; input: InternalInput };

/** The slices a decision changed (only those), and its effects, to be saved together (the outbox). */
export type ChangedSlices = {
  control?: ControlSlice;
  domains: Record<string, DomainSlice>;
  hosts: Record<string, HostSlice>;
};
export type Decision = { slices: ChangedSlices; effects: Effect[] };

/**
 * Who sent an operator command, as the API stamped it. A label is free text that any operator
 * may give a token they mint, so it names no one on its own; the token's id (`TokenId`, derived
 * from the stored hash) does, and is stamped beside it. The label is absent when the stored one
 * fails `TokenLabel`. Commands queued before ids were stamped carry the bare label, older ones
 * nothing. The id sits inside `by`, not beside it, so that a reader of the queue (correlate, whose
 * schema is this strict one) takes one schema change for every command type.
 */
const OperatorSender = z.strictObject({ tokenId: TokenId, label: TokenLabel.optional() });
const OperatorName = z.union([OperatorSender, TokenLabel]).optional();

/**
 * Operator commands, applied through the core like events so that replay sees them too. `by` says
 * which operator token sent it (`OperatorSender`), for the timeline.
 */
export const OperatorCommand = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('operator.pause'), id: Identifier, at: Rfc3339, by: OperatorName }),
  z.strictObject({
    type: z.literal('operator.resume'),
    id: Identifier,
    at: Rfc3339,
    by: OperatorName,
    /** With a domain, lifts that domain's halt; without, ends the global pause. */
    failureDomain: FailureDomain.optional(),
  }),
  z.strictObject({
    type: z.literal('operator.approve'),
    id: Identifier,
    at: Rfc3339,
    by: OperatorName,
    incidentId: Identifier,
    failureDomain: FailureDomain,
    canaryHost: HostId.optional(),
  }),
  z.strictObject({
    type: z.literal('operator.resolve'),
    id: Identifier,
    at: Rfc3339,
    by: OperatorName,
    incidentId: Identifier,
    failureDomain: FailureDomain.optional(),
    hostId: HostId.optional(),
  }),
  z.strictObject({
    type: z.literal('operator.maintenance'),
    id: Identifier,
    at: Rfc3339,
    by: OperatorName,
    target: z.enum(['host', 'domain']),
    name: z.union([HostId, FailureDomain]),
    on: z.boolean(),
  }),
]);
export type OperatorCommand = z.infer<typeof OperatorCommand>;

/** Inputs the core gives itself (as `follow-up` effects) when a decision touches a slice it did not load. */
export type InternalInput =
  | { type: 'internal.join'; hostId: string; failureDomain: string; incidentId: string; at: string }
  | {
      type: 'internal.revoke';
      hostId: string;
      planId: string;
      at: string;
      /** Requeue the host for a later plan (a flap), or mark it failed (its slot expired). */
      requeue: boolean;
    }
  /**
   * A domain the host is exposed on went down (or came back): check the host for a double fault now
   * (§5.4). `exposed` is how many hosts that domain listed, for the page.
   */
  | { type: 'internal.critical'; hostId: string; failureDomain: string; at: string; exposed: number }
  /**
   * A control domain's heartbeat reported an LDoms guest's virtual disks anew (`guests`, §3), or no
   * longer lists the guest, or renews its claim: the guest keeps its word and, from the control
   * domain that owns it, places its members on their failure domains (./guests.ts).
   */
  | ({
      type: 'internal.guest-disks';
      hostId: string;
      /** How the report lists the guest; absent (a follow-up saved before) it is `active`. */
      listing?: GuestListing;
      /** When the control domain's claim lapses without a newer word from it (`GuestClaim.lapsesAt`). */
      lapsesAt?: string;
      /**
       * When its heartbeat before this one was received: a guest it listed active then and no longer
       * does was listed active until that moment (absent: unknown, its last word to the guest stands).
       */
      previousAt?: string;
    } & GuestDisks)
  /**
   * A server's silence for a domain fell due (`hostId`: the server): whether the domain's named
   * clients were heard through it, read from their slices (./servers.ts), takes the domain down now.
   */
  | { type: 'internal.silence'; hostId: string; failureDomain: string; clients: string[]; at: string };

export type CoreInput = FaultlineEvent | OperatorCommand | InternalInput;
