import { z } from 'zod';
import {
  BootId,
  Code,
  ConsoleName,
  DiskName,
  FailureDomain,
  Hctl,
  HostId,
  Identifier,
  MapName,
  MdUuid,
  Rfc3339,
  ScsiHost,
  Wwid,
} from './names.ts';
import { PlanAction } from './plan.ts';
import {
  ArrayReport,
  DeviceState,
  DiskReport,
  DomainRole,
  GuestDisk,
  HostRole,
  Member,
  MIRROR_NAME_ISSUE,
  MirrorKind,
  MirrorName,
  mirrorNamedByKind,
  PathReport,
  PathState,
  Platform,
  ProbedPartition,
  RaidLevel,
  ReplicaReports,
} from './storage.ts';

/** The CloudEvents `source` of an agent: `faultline-agent://<hostId>`. */
export const AGENT_SOURCE_PREFIX = 'faultline-agent://';

export const EVENT_TYPES = [
  'mirror.degraded',
  'mirror.recovering',
  'mirror.healthy',
  'path.lost',
  'path.restored',
  'domain.going-down',
  'domain.rebooted',
  'ipl.completed',
  'disk.probed',
  'host.heartbeat',
  'command.progress',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The CloudEvents 1.0 envelope with Faultline's extension attributes. Unknown extension attributes
 * are stripped, not rejected, so old and new agents coexist.
 */
const envelope = {
  specversion: z.literal('1.0'),
  id: Identifier,
  source: z
    .string()
    .startsWith(AGENT_SOURCE_PREFIX, `source must be ${AGENT_SOURCE_PREFIX}<hostId>`)
    .max(AGENT_SOURCE_PREFIX.length + 253),
  time: Rfc3339,
  subject: Identifier,
  datacontenttype: z.literal('application/json'),
  hostid: HostId,
  bootid: BootId,
  /** Per agent, strictly increasing across restarts; with `bootid` the per-resource watermark. */
  seq: z.int().min(0),
  /** Set on every event a plan's step caused, so Faultline never mistakes its own work for a fault. */
  planid: Identifier.optional(),
  /** Stamped by ingest, never by agents. */
  receivedat: Rfc3339.optional(),
  /**
   * Who sent it, stamped by ingest (the API, or correlate for a message sent straight to SQS) from
   * the authenticated sender, never by agents: `agent:<hostId>` or `operator:<token label>`. The
   * timeline names it for each announcement.
   */
  sentby: z
    .string()
    .max(300)
    .regex(/^(?:agent|operator):[^\r\n]{1,290}$/, 'not a sender such as agent:<host> or operator:<label>')
    .optional(),
};

const Members = z.array(Member).max(64);
const Percent = z.number().min(0).max(100);

export const MirrorDegradedData = z
  .object({
    array: MirrorName,
    kind: MirrorKind,
    level: RaidLevel,
    members: Members,
    bitmap: z.boolean().optional(),
    uuid: MdUuid.optional(),
  })
  .refine(mirrorNamedByKind, MIRROR_NAME_ISSUE);
export const MirrorRecoveringData = z
  .object({
    array: MirrorName,
    kind: MirrorKind,
    level: RaidLevel,
    members: Members,
    progress: Percent,
    finishMinutes: z.number().min(0).optional(),
    /** From `md/sync_completed` ("synced / total" in 512-byte sectors): finer than `progress`, so a slow resync still moves. */
    syncedSectors: z.int().min(0).optional(),
    totalSectors: z.int().min(0).optional(),
  })
  .refine(mirrorNamedByKind, MIRROR_NAME_ISSUE);
export const MirrorHealthyData = z
  .object({
    array: MirrorName,
    kind: MirrorKind,
    level: RaidLevel,
    members: Members,
  })
  .refine(mirrorNamedByKind, MIRROR_NAME_ISSUE);
export const PathChangeData = z.object({
  map: MapName,
  wwid: Wwid,
  path: DiskName,
  hctl: Hctl,
  failureDomain: FailureDomain,
  state: PathState,
  activePaths: z.int().min(0).max(1024),
});
export const DomainGoingDownData = z.object({
  failureDomain: FailureDomain,
  reason: z.string().max(1024).optional(),
});
export const DomainRebootedData = z.object({
  domain: ConsoleName,
  role: DomainRole,
  failureDomain: FailureDomain,
  bootedAt: Rfc3339,
});
export const IplCompletedData = z.object({
  partition: ConsoleName,
  system: ConsoleName,
  failureDomain: FailureDomain,
  bootedAt: Rfc3339,
});
export const DiskProbedData = z.object({
  disk: DiskName,
  hctl: Hctl.optional(),
  scsiHost: ScsiHost.optional(),
  failureDomain: FailureDomain,
  deviceState: DeviceState,
  readable: z.boolean(),
  partitions: z.array(ProbedPartition).max(128),
});
export const HostHeartbeatData = z.object({
  platform: Platform,
  role: HostRole,
  agentVersion: z.string().regex(/^[0-9A-Za-z.+-]{1,64}$/, 'not a version such as 0.1.0'),
  intervalSeconds: z.int().min(1).max(86_400),
  capabilities: z.array(PlanAction).max(32),
  arrays: z.array(ArrayReport).max(256),
  paths: z.array(PathReport).max(1024),
  disks: z.array(DiskReport).max(1024),
  /** The kernel's boot time; a new boot is a changed `bootid`, never a changed boot time (an NTP step moves it). */
  bootedAt: Rfc3339.optional(),
  /** The failure domains a server serves now (its serving check passed), within its grant (§3). */
  serves: z.array(FailureDomain).max(64).optional(),
  /** A control domain's guests' virtual disks and the service domain behind each (`ldm list -o disk -p`). */
  guests: z.array(GuestDisk).max(4096).optional(),
  /**
   * An SVM host's state database replicas per slice (`metadb -i`): what lets the core plan
   * `svm.metadb-restore` of the replicas a returned disk keeps in error (§4). Absent from an older
   * agent, and whenever `metadb` could not be read: the core then plans no restore.
   */
  replicas: ReplicaReports.optional().describe(
    'The state database replicas per slice, from metadb -i (SVM hosts), each slice once. Absent when the agent predates it or could not read metadb; never partial.',
  ),
});
export const ProgressOutcome = z.enum(['started', 'succeeded', 'failed', 'skipped', 'refused']);
export type ProgressOutcome = z.infer<typeof ProgressOutcome>;
export const PlanBranch = z.enum(['steps', 'fastPath']);
export type PlanBranch = z.infer<typeof PlanBranch>;
export const CommandProgressData = z.object({
  planId: Identifier,
  step: z.int().min(0),
  action: PlanAction,
  outcome: ProgressOutcome,
  branch: PlanBranch.optional(),
  code: Code.optional(),
  detail: z.string().max(4096).optional(),
  durationMs: z.int().min(0).optional(),
});

const cloudEvent = <Type extends EventType, Data extends z.ZodType>(type: Type, data: Data) =>
  z.object({ ...envelope, type: z.literal(type), data });

export const MirrorDegraded = cloudEvent('mirror.degraded', MirrorDegradedData);
export type MirrorDegraded = z.infer<typeof MirrorDegraded>;
export const MirrorRecovering = cloudEvent('mirror.recovering', MirrorRecoveringData);
export type MirrorRecovering = z.infer<typeof MirrorRecovering>;
export const MirrorHealthy = cloudEvent('mirror.healthy', MirrorHealthyData);
export type MirrorHealthy = z.infer<typeof MirrorHealthy>;
export const PathLost = cloudEvent('path.lost', PathChangeData);
export type PathLost = z.infer<typeof PathLost>;
export const PathRestored = cloudEvent('path.restored', PathChangeData);
export type PathRestored = z.infer<typeof PathRestored>;
export const DomainGoingDown = cloudEvent('domain.going-down', DomainGoingDownData);
export type DomainGoingDown = z.infer<typeof DomainGoingDown>;
export const DomainRebooted = cloudEvent('domain.rebooted', DomainRebootedData);
export type DomainRebooted = z.infer<typeof DomainRebooted>;
export const IplCompleted = cloudEvent('ipl.completed', IplCompletedData);
export type IplCompleted = z.infer<typeof IplCompleted>;
export const DiskProbed = cloudEvent('disk.probed', DiskProbedData);
export type DiskProbed = z.infer<typeof DiskProbed>;
export const HostHeartbeat = cloudEvent('host.heartbeat', HostHeartbeatData);
export type HostHeartbeat = z.infer<typeof HostHeartbeat>;
export const CommandProgress = cloudEvent('command.progress', CommandProgressData);
export type CommandProgress = z.infer<typeof CommandProgress>;

/** Every event type by its name, for schema generation and examples. */
export const EVENT_SCHEMAS = {
  'mirror.degraded': MirrorDegraded,
  'mirror.recovering': MirrorRecovering,
  'mirror.healthy': MirrorHealthy,
  'path.lost': PathLost,
  'path.restored': PathRestored,
  'domain.going-down': DomainGoingDown,
  'domain.rebooted': DomainRebooted,
  'ipl.completed': IplCompleted,
  'disk.probed': DiskProbed,
  'host.heartbeat': HostHeartbeat,
  'command.progress': CommandProgress,
} as const satisfies Record<EventType, z.ZodType>;

/**
 * Any Faultline event, discriminated by its CloudEvents `type`; an unknown type is rejected. The
 * refinement binds `hostid` to the host named in `source`.
 */
export const FaultlineEvent = z
  .discriminatedUnion('type', [
    MirrorDegraded,
    MirrorRecovering,
    MirrorHealthy,
    PathLost,
    PathRestored,
    DomainGoingDown,
    DomainRebooted,
    IplCompleted,
    DiskProbed,
    HostHeartbeat,
    CommandProgress,
  ])
  .superRefine((event, context) => {
    if (event.source !== `${AGENT_SOURCE_PREFIX}${event.hostid}`) {
      context.addIssue({
        code: 'custom',
        path: ['hostid'],
        message: `hostid must match source (${event.source})`,
      });
    }
  });
export type FaultlineEvent = z.infer<typeof FaultlineEvent>;

/** Events only a host of role `hosting` or `control`, or an operator, may send (§3 sender binding). */
export const SERVER_EVENT_TYPES: readonly EventType[] = [
  'domain.going-down',
  'domain.rebooted',
  'ipl.completed',
];
