import { z } from 'zod';
import {
  ArrayName,
  ConsoleName,
  DeviceName,
  DiskName,
  FailureDomain,
  Hctl,
  MapName,
  MdUuid,
  MetadeviceName,
  ScsiHost,
  Wwid,
} from './names.ts';

/** The pieces of storage that events, heartbeats and snapshots describe (docs/architecture.md §3). */

/**
 * `md` (Linux md), `svm` (Solaris Volume Manager) or `lvm`: an AIX logical volume with two or three
 * mirror copies, observed and paged for; no runbook acts on it yet (docs/architecture.md §3).
 */
export const MirrorKind = z.enum(['md', 'svm', 'lvm']);
export type MirrorKind = z.infer<typeof MirrorKind>;

/**
 * An AIX logical volume as LVM names it (`hd4`, `hd9var`, `lg_dumplv`, `datalv01`): letters,
 * digits, `_`, `.` and `-`, at most 64 characters (AIX 7 allows names that long in scalable volume
 * groups), never `..`; it starts with a letter or a digit, as the event `subject` it becomes must.
 */
export const LogicalVolumeName = z
  .string()
  .regex(
    /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'not an AIX logical volume name such as hd4 or datalv01',
  );
export type LogicalVolumeName = z.infer<typeof LogicalVolumeName>;

/**
 * What a mirror event or report names: an md array or SVM mirror (`md0`, `d10`), or an AIX logical
 * volume (`hd4`). Plans never take this wider name: their md and SVM actions keep {@link ArrayName}.
 */
export const MirrorName = z
  .union([ArrayName, LogicalVolumeName])
  .describe('md0 or d10 for kind md and svm; an AIX logical volume name (hd4, datalv01) only for kind lvm.');
export type MirrorName = z.infer<typeof MirrorName>;

/**
 * An md array or SVM mirror keeps its own names (`md0`, `d10`): only an `lvm` mirror may carry a
 * logical volume's, so nothing named like `hd4` is ever taken for an array a plan could act on.
 */
export const mirrorNamedByKind = (mirror: { array: string; kind: MirrorKind }): boolean =>
  mirror.kind === 'lvm' || ArrayName.safeParse(mirror.array).success;

/** The issue {@link mirrorNamedByKind} raises. */
export const MIRROR_NAME_ISSUE = {
  message: 'an md or svm mirror is named like md0 or d10; other names are AIX logical volumes (kind lvm)',
  path: ['array'],
};

/** A RAID level as the tool prints it: `raid1`, `raid10`, `linear`; SVM mirrors are `raid1`. */
export const RaidLevel = z
  .string()
  .regex(/^(?:raid\d{1,2}|linear|multipath|faulty|container)$/, 'not a RAID level');
export type RaidLevel = z.infer<typeof RaidLevel>;

export const MemberState = z.enum(['in-sync', 'faulty', 'spare', 'rebuilding', 'last-erred', 'maintenance']);
export type MemberState = z.infer<typeof MemberState>;

/** One member the tool still shows; a removed member is absent from `members`. */
export const Member = z.object({
  device: DeviceName,
  disk: DiskName,
  state: MemberState,
  failureDomain: FailureDomain,
  submirror: MetadeviceName.optional(),
});
export type Member = z.infer<typeof Member>;

/** The array states of the mdstat parse output (§6), shared by heartbeats and snapshots. */
export const ArrayState = z.enum(['clean', 'degraded', 'recovering', 'resyncing', 'checking', 'inactive']);
export type ArrayState = z.infer<typeof ArrayState>;

export const PathState = z.enum(['active', 'ghost', 'failed', 'offline', 'pending']);
export type PathState = z.infer<typeof PathState>;

export const DeviceState = z.enum(['running', 'offline', 'blocked', 'gone']);
export type DeviceState = z.infer<typeof DeviceState>;

export const DomainRole = z.enum(['primary', 'alternate', 'io', 'service']);
export type DomainRole = z.infer<typeof DomainRole>;

export const HostRole = z.enum(['client', 'hosting', 'control']);
export type HostRole = z.infer<typeof HostRole>;
/** The roles an operator grants (§3 "Sender binding"): a server; every host not registered is a client. */
export const ServerRole = z.enum(['hosting', 'control']);
export type ServerRole = z.infer<typeof ServerRole>;

export const Platform = z.enum(['linux', 'solaris', 'aix', 'ibmi']);
export type Platform = z.infer<typeof Platform>;

/** A member's role in its md superblock, as `mdadm --examine` prints `Device Role`. */
export const SuperblockRole = z.enum(['active', 'spare', 'faulty', 'replacement']);
export type SuperblockRole = z.infer<typeof SuperblockRole>;

const ByteCount = z.int().min(0);
const EventCount = z.int().min(0);

/** A partition of a probed disk with what its md superblock says (`mdadm --examine`). */
export const ProbedPartition = z.object({
  device: DeviceName,
  array: ArrayName.optional(),
  uuid: MdUuid.optional(),
  role: SuperblockRole.optional(),
  events: EventCount.optional(),
});
export type ProbedPartition = z.infer<typeof ProbedPartition>;

/** An array as a heartbeat or snapshot reports it. */
export const ArrayReport = z
  .object({
    array: MirrorName,
    kind: MirrorKind,
    level: RaidLevel,
    state: ArrayState,
    members: z.array(Member).max(64),
    bitmap: z.boolean().optional(),
    uuid: MdUuid.optional(),
  })
  .refine(mirrorNamedByKind, MIRROR_NAME_ISSUE);
export type ArrayReport = z.infer<typeof ArrayReport>;

/** A multipath path as a heartbeat reports it. */
export const PathReport = z.object({
  map: MapName,
  wwid: Wwid,
  path: DiskName,
  hctl: Hctl,
  failureDomain: FailureDomain,
  state: PathState,
});
export type PathReport = z.infer<typeof PathReport>;

/** A disk with its SCSI address (absent for an LDoms virtual disk) and what serves it. */
export const DiskReport = z.object({
  disk: DiskName,
  hctl: Hctl.optional(),
  scsiHost: ScsiHost.optional(),
  driver: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'not a driver name such as ibmvscsi'),
  sizeBytes: ByteCount.optional(),
  wwid: Wwid.optional(),
  failureDomain: FailureDomain,
  /** From the last probe of a disk that holds a faulty, missing or Maintenance member (§3), as in `disk.probed`. */
  deviceState: DeviceState.optional(),
  /** From that probe: a direct read of the first block succeeded. */
  readable: z.boolean().optional(),
});
export type DiskReport = z.infer<typeof DiskReport>;

/** An LDoms domain's state as `ldm list -p` prints it (`state=`). */
export const LdomsDomainState = z.enum(['active', 'bound', 'inactive']);
export type LdomsDomainState = z.infer<typeof LdomsDomainState>;

/**
 * A guest's virtual disk as its control domain's `ldm list -o disk -p` shows it (§3 heartbeat
 * `guests`): which service domain serves it, so the guest's members carry the right failure domain
 * with no hand-written topology. `disk` is the guest's name for it (`c0d<id>`). `state` is the
 * guest domain's state in `ldm list -p` (`ldm list -o disk -p` prints none, and lists the disks of
 * a bound or inactive domain too, such as a disaster-recovery standby's copy of a guest): only a
 * control domain where the guest is `active` places its disks. Absent (an older agent), the guest
 * counts as active there.
 */
export const GuestDisk = z.object({
  guest: ConsoleName,
  disk: DiskName,
  failureDomain: FailureDomain,
  state: LdomsDomainState.optional(),
});
export type GuestDisk = z.infer<typeof GuestDisk>;

/** An LDoms domain as `ldm list` shows it from a control domain. */
export const LdomsDomain = z.object({
  name: ConsoleName,
  state: LdomsDomainState,
  flags: z.string().regex(/^[-a-z]{0,16}$/, 'not ldm flags such as -n-cv-'),
});
export type LdomsDomain = z.infer<typeof LdomsDomain>;

/**
 * SVM keeps at most 50 state database replicas (Solaris Volume Manager Administration Guide), so a
 * slice holds 1 to 50 of them and a host lists at most 50 slices; `svm.metadb-restore` re-creates
 * at most that many.
 */
export const MAX_STATE_DATABASE_REPLICAS = 50;
const ReplicaCount = z.int().min(0).max(MAX_STATE_DATABASE_REPLICAS);

/**
 * The state database replicas on one slice, counted from `metadb -i` (§3 heartbeat `replicas`).
 * Counts rather than the replicas themselves: the core needs to know which slice of a repaired disk
 * holds replicas that are all in error (its `svm.metadb-restore {slice, count}`) and whether the
 * others hold a majority. A replica may be neither active nor in error (SVM stopped committing to
 * it), so `active + erred` may fall short of `count`.
 */
export const ReplicaReport = z
  .object({
    slice: DeviceName.describe('The slice as the plans name it, without /dev/dsk/: c0d1s7.'),
    count: z
      .int()
      .min(1)
      .max(MAX_STATE_DATABASE_REPLICAS)
      .describe('How many replicas metadb lists on the slice; active and erred together never exceed it.'),
    active: ReplicaCount.describe(
      'Of those, how many SVM commits to: flagged a (active) and carrying no error flag.',
    ),
    erred: ReplicaCount.describe(
      'Of those, how many carry an error flag (W, R, M, D, F, S or B); never counted as active.',
    ),
  })
  .refine((report) => report.active + report.erred <= report.count, {
    message: 'active and erred replicas together exceed count',
    path: ['count'],
  });
export type ReplicaReport = z.infer<typeof ReplicaReport>;

/**
 * Every slice that holds a state database replica, each once: the whole state database, since the
 * majority rules of §4 need the total. Absent rather than partial or empty when `metadb` failed or
 * printed something the agent could not read: an unknown state database never reads as healthy.
 */
export const ReplicaReports = z
  .array(ReplicaReport)
  .min(1)
  .max(MAX_STATE_DATABASE_REPLICAS)
  .refine((reports) => new Set(reports.map((report) => report.slice)).size === reports.length, {
    message: 'a slice is listed twice',
  });
export type ReplicaReports = z.infer<typeof ReplicaReports>;

/** An AIX volume group as LVM names it (`rootvg`, `datavg`): the same characters as a logical volume. */
export const VolumeGroupName = z
  .string()
  .regex(/^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'not an AIX volume group name such as rootvg');
export type VolumeGroupName = z.infer<typeof VolumeGroupName>;

/** An AIX adapter that parents MPIO paths: `vscsi0`, `fscsi1`, `sas0`, `iscsi0`. */
export const AixAdapterName = z
  .string()
  .regex(/^[a-z][a-z_]{0,15}\d{1,5}$/, 'not an AIX adapter name such as vscsi0 or fscsi1');
export type AixAdapterName = z.infer<typeof AixAdapterName>;

/**
 * A logical volume of `lsvg -l` (§6 `parse lsvg`). `copies` is PPs ÷ LPs (1 to 3). `lsvg -l` shows
 * whether an LV has stale partitions, not how many: `stalePartitions` is 0 for a `syncd` LV and
 * null for a `stale` one (`lslv <lv>` counts them in `STALE PPs:`). `state` is the LV STATE column
 * as printed: `open/syncd`, `open/stale`, `closed/syncd`, `closed/stale`.
 */
export const LsvgLogicalVolume = z.object({
  name: LogicalVolumeName,
  copies: z.int().min(1).max(3),
  stalePartitions: z.int().min(0).nullable(),
  state: z.string().regex(/^[a-z?]{1,16}(?:\/[a-z?]{1,16})?$/, 'not an LV state such as open/syncd'),
});
export type LsvgLogicalVolume = z.infer<typeof LsvgLogicalVolume>;

export const LsvgVolumeGroup = z.object({
  name: VolumeGroupName,
  logicalVolumes: z.array(LsvgLogicalVolume),
});
export type LsvgVolumeGroup = z.infer<typeof LsvgVolumeGroup>;

/** What `faultline-agent parse lsvg` prints for `lsvg -l <vg>...` (§6). */
export const LsvgOutput = z.object({ volumeGroups: z.array(LsvgVolumeGroup) });
export type LsvgOutput = z.infer<typeof LsvgOutput>;

/**
 * An MPIO path's status as `lspath` prints it: `Enabled`, `Disabled` (by `chpath`), `Failed`,
 * `Defined` (not configured), `Missing` (gone since the last boot), `Detected` (seen at boot, not
 * configured); `Available` is the `path_status` field's word for a configured path.
 */
export const LspathStatus = z.enum([
  'Enabled',
  'Disabled',
  'Failed',
  'Defined',
  'Missing',
  'Detected',
  'Available',
]);
export type LspathStatus = z.infer<typeof LspathStatus>;

/** A path of `lspath` (§6 `parse lspath`); `connection` only when the output has the field. */
export const LspathPath = z.object({
  device: DiskName,
  parent: AixAdapterName,
  status: LspathStatus,
  connection: z
    .string()
    .regex(
      /^[0-9A-Za-z][0-9A-Za-z,:._-]{0,127}$/,
      'not a path connection such as 810000000000 or <wwpn>,<lun>',
    )
    .optional(),
});
export type LspathPath = z.infer<typeof LspathPath>;

/** What `faultline-agent parse lspath` prints (§6). */
export const LspathOutput = z.object({ paths: z.array(LspathPath) });
export type LspathOutput = z.infer<typeof LspathOutput>;
