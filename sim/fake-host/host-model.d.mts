/** Types of the simulated host model (host-model.mjs), for the demo and the executor tests. */

export type FakeMemberState = 'in_sync' | 'faulty' | 'spare' | 'rebuilding';

export type FakeMember = { device: string; descriptor: number; slot: number | null; state: FakeMemberState };

export type FakeArray = {
  uuid: string;
  /** The name in the superblock: `host:0`. */
  name: string;
  level: string;
  metadata: string;
  raidDevices: number;
  sizeKiB: number;
  bitmap: boolean;
  /** The event count at which the bitmap was last cleared: an older member cannot be re-added. */
  bitmapEventsCleared?: number;
  events: number;
  nextDescriptor: number;
  members: FakeMember[];
  recovery: FakeRecovery | null;
  /** Percent per second of a full recovery, and of a bitmap re-add. */
  ratePerSecond: number;
  reAddRatePerSecond: number;
  /**
   * A fixed sync speed in KiB/s, instead of the rates: the kernel's `speed_limit_min` (1,000) for
   * an array whose disks are busy, which the kernel throttles down to that minimum.
   */
  syncSpeedKiB?: number;
  /** A resync that makes no progress. */
  stalled: boolean;
};

/** A recovery the kernel runs (or has queued) on an array. */
export type FakeRecovery = {
  device: string;
  /** Percent done: the live position mdstat shows. */
  progress: number;
  /** Percent per second. */
  rate: number;
  /** What `sync_completed` shows: the kernel's last checkpoint, in sectors. */
  completedSectors?: number;
  /** Simulated time of that checkpoint. */
  checkpointMs?: number;
  /** Waiting for another array's sync on the same disks (`resync=DELAYED`, `sync_completed` `delayed`). */
  delayed?: boolean;
};

export type FakeScsiHost = {
  /** `ibmvscsi` (vSCSI from a hosting partition), `ibmvfc` (NPIV through a VIOS), `qla2xxx`, ... */
  driver: string;
  /** The vio adapter folder (`30000003`). */
  adapter: string;
  /** ibmvscsi, ibmvfc: the hosting partition (VIOS) the adapter logged in to, its id, and the server adapter's slot. */
  partitionName?: string;
  partitionNumber?: number;
  slot?: number;
  /** ibmvfc: the VIOS's physical FC adapter (`fcs0`) and its port's location code. */
  deviceName?: string;
  portLocCode?: string;
  /** ibmvfc: the client adapter's virtual WWPN (`c0507604f7c300a6`). */
  wwpn?: string;
};

export type FakeLun = {
  /** The kernel name the disk has, or had last. */
  name: string;
  /** Its name while attached; null after a delete. */
  attached: string | null;
  /** The name the next rescan attaches it under, when not `name`. */
  comesBackAs?: string;
  /** Whether the server exports the LUN (a rescan finds it). */
  exported: boolean;
  /** The SCSI device state (`running`, `offline`, `blocked`). */
  state: string;
  readable: boolean;
  /** Its server stopped answering while the device still runs: a read never returns (dd hangs in D state). */
  hangs?: boolean;
  /** An FC (NPIV) LUN: the WWPN of the target port it is reached through (`500507680b21ac1c`). */
  targetPort?: string;
  /** The SCSI inquiry strings; default `AIX`/`VDASD`, a vSCSI disk's. */
  vendor?: string;
  product?: string;
  sizeBytes: number;
  wwid?: string;
  /** Its partitions; `signature` is what else one holds (a file system, an LVM label, swap). */
  partitions: { number: number; sizeBytes: number; signature?: 'xfs' | 'ext4' | 'swap' | 'LVM2_member' }[];
  /** Simulated time from which its partition nodes show. */
  partitionsAt: number;
  /** How long after a rescan its partition nodes appear. */
  partitionDelayMs?: number;
  /** Something holds it open: the kernel refuses `delete` with EBUSY. */
  heldOpen: boolean;
};

export type FakePath = {
  device: string;
  hctl: string;
  /** As multipathd shows it (fake-multipathd.mjs): dm's `active`/`failed`, the checker's state, `dev_st` at its last check. */
  dmState: string;
  checker: string;
  online: string;
  /** The path group; a group other than the first holds the array's standby (ghost) ports. */
  group: number;
  /** Simulated time of the checker's next run, set by an operator's `reinstate path`. */
  recheckAtMs?: number;
};
export type FakeMap = {
  name: string;
  wwid: string;
  dm: string;
  vendor: string;
  product: string;
  paths: FakePath[];
};

export type FakeComponent = { device: string; state: string; hotSpare?: string };
export type FakeSubmirror = {
  name: string;
  state: string;
  hotSparePool?: string;
  components: FakeComponent[];
};
export type FakeMirror = { name: string; blocks: number; resync: number | null; submirrors: FakeSubmirror[] };
/**
 * A state database replica on a slice (`c0d1s7`), with its flag letters as `metadb -i` prints them;
 * its blocks default to the next 8192 on its slice, and `locatorUnread` prints them `unknown`.
 */
export type FakeReplica = {
  device: string;
  flags: string;
  firstBlock?: number;
  blockCount?: number;
  locatorUnread?: boolean;
};
export type FakeSvm = {
  mirrors: FakeMirror[];
  hotSparePools: { name: string; spares: { device: string; status: string }[] }[];
  /** The state database replicas (fake-svm-tools.mjs): `metadb -i`'s flag letters (`a m p luo`, `W p l`). */
  metadb: FakeReplica[];
  ratePerSecond: number;
  stalled: boolean;
};

export type FakeModel = {
  hostId: string;
  bootId: string;
  btime: number;
  /** The managed system's location code prefix (`U9080.M9S.78AB12C`). */
  system: string;
  ownPartition: string;
  simMs: number;
  scsiHosts: Record<string, FakeScsiHost>;
  luns: Record<string, FakeLun>;
  arrays: Record<string, FakeArray>;
  mounts: { device: string; mountPoint: string; fstype: string }[];
  swaps: string[];
  extraHolders: Record<string, string[]>;
  dm: Record<string, { uuid: string; slaves: string[] }>;
  multipath: FakeMap[];
  svm: FakeSvm | null;
  /** A Solaris guest's disks (`c0d1`): whether their raw whole-disk slice reads, or hangs (vdc waiting for its service domain). */
  solarisDisks?: Record<string, { readable: boolean; hangs?: boolean }>;
  /** A Solaris host (an LDoms guest): no `proc/mdstat`, and a tree the scan reads as Solaris. */
  platform?: 'solaris';
  /** A kernel whose sysfs lists no holders (2.6.2x and older): only mdstat tells md membership. */
  noHolders?: boolean;
  /**
   * The mdadm the fake copies (fake-mdadm.mjs): `4.2` when absent. `3.1.5` to `3.2.3` refuse a plain
   * `--add` of a stale active member ("reports being an active member"); later ones add it as a
   * new device and rebuild it in full.
   */
  mdadmVersion?: string;
  /** `/proc/sys/dev/raid/speed_limit_min` in KiB/s; 1,000 when absent. */
  speedLimitMinKiB?: number;
};

export type FakeSuperblock = {
  uuid: string;
  name: string;
  level: string;
  raidDevices: number;
  events: number;
  role: 'active' | 'spare';
  slot: number | null;
  bitmap: boolean;
};

export type FakeLogEntry = {
  argv: string[];
  /** `metadb -a`/`-d`: the replicas as they were when it was asked. */
  replicasBefore?: { device: string; flags: string }[];
  before?: {
    array: string;
    uuid: string;
    events: number;
    inSync: string[];
    member: FakeMemberState | null;
    /** The superblock on the target's medium, whether mdadm could read it or not. */
    onMedium: { uuid: string; events: number } | null;
  } | null;
};

export const DATA_OFFSET_BYTES: number;
export function statePath(root: string, ...parts: string[]): string;
export function superblockPath(root: string, hctl: string, number: number): string;
export function loadModel(root: string): FakeModel;
export function saveModel(root: string, model: FakeModel): void;
export function updateModel<T>(root: string, change: (model: FakeModel) => T): T;
export function logAction(root: string, entry: FakeLogEntry): void;
export function readActions(root: string): FakeLogEntry[];
export function readReads(root: string): FakeLogEntry[];
export function locateDevice(
  model: FakeModel,
  device: string,
): { hctl: string; lun: FakeLun; number: number | null } | null;
export function readSuperblock(root: string, model: FakeModel, device: string): FakeSuperblock | null;
export function writeSuperblock(
  root: string,
  model: FakeModel,
  device: string,
  superblock: FakeSuperblock,
): void;
/** Blanks a partition's md superblock (`mdadm --zero-superblock`). */
export function clearSuperblock(root: string, model: FakeModel, device: string): void;
export function superblockFor(array: FakeArray, member: FakeMember): FakeSuperblock;
export function inSyncDevices(array: FakeArray): string[];
export function scsiDelete(root: string, model: FakeModel, hctl: string): boolean;
/** A write to a SCSI device's `state` as the kernel takes it: the errno it fails with, or null. */
export function scsiSetState(model: FakeModel, hctl: string, text: string): 'ENOENT' | 'EINVAL' | null;
export function scsiScan(
  model: FakeModel,
  host: string,
  channel: string,
  target: string,
  lun: string,
): boolean;
export function advance(root: string, model: FakeModel, ms: number): boolean;
/** The kernel's default `speed_limit_min`, KiB/s. */
export const SPEED_LIMIT_MIN_KIB: number;
/** How long the kernel may leave `sync_completed` unmoved while a sync runs (five minutes). */
export const SYNC_CHECKPOINT_MS: number;
/** An array's sync size in 512-byte sectors. */
export function syncTotalSectors(array: FakeArray): number;
export function saveModelOnly(root: string, model: FakeModel): void;
/** A new event on an array: its count goes up and every working, reachable member's superblock follows. */
export function bumpEvents(root: string, model: FakeModel, name: string): void;
/** The flags of a replica in error, as `metadb -d` counts them. */
export const REPLICA_ERROR_FLAGS: RegExp;
/** The disk of a Solaris slice (`c0d1s7` → `c0d1`). */
export function sliceDisk(slice: string): string;
/** Replicas on a disk that does not answer take their write error (`W`), latched until re-created. */
export function latchReplicaErrors(model: FakeModel): void;
