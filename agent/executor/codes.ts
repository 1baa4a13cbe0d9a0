/**
 * The codes the executor reports in `command.progress` (docs/architecture.md §3 `code`, §4 preconditions).
 * Each refused precondition has its own code, so the control plane and an operator can tell at a
 * glance why a plan stopped; a failure of something that ran has a code too. Codes are kebab-case
 * and stable: dashboards and runbooks key on them.
 */

/** Why a plan as a whole was refused before any step ran (the outcome is `refused`, step 0). */
export const PLAN_REFUSAL = {
  /** The plan does not parse against the contract (`parsePlan`). */
  invalidPlan: 'invalid-plan',
  /** The agent has no public key to verify plans with, so it runs none. */
  noPlanKey: 'no-plan-key',
  /** The signature does not verify against the configured key. */
  badSignature: 'bad-signature',
  /** The plan names another host. */
  wrongHost: 'wrong-host',
  /** The plan was issued before this boot began, or first received during an earlier boot. */
  wrongBoot: 'wrong-boot',
  /** `ttlSeconds` have passed since the agent first received it (or it was issued long before). */
  expired: 'expired',
  /** This plan id already ran (or began to) on this host. */
  alreadyRun: 'already-run',
  /** A step's action is not one this agent can run on this platform. */
  unsupportedAction: 'unsupported-action',
  /** The local stop file exists: an operator stopped all plans on this host. */
  stopFile: 'stop-file',
  /** Another plan holds the plan lock. */
  planRunning: 'plan-running',
  /** No directory can remember the plan id durably, so at-most-once cannot be promised. */
  ledgerUnavailable: 'ledger-unavailable',
} as const;
export type PlanRefusalCode = (typeof PLAN_REFUSAL)[keyof typeof PLAN_REFUSAL];

/** Why a step was refused: a §4 precondition that does not hold on the host as it is now. */
export const STEP_REFUSAL = {
  stopFile: PLAN_REFUSAL.stopFile,
  arrayNotFound: 'array-not-found',
  /** The array has no in-sync member left: a double fault that no automatic step touches (§5.4). */
  noInSyncMember: 'no-in-sync-member',
  memberNotInArray: 'member-not-in-array',
  /** The tools disagree about a member's state (a change in flight): nothing is decided on it. */
  memberStateUnknown: 'member-state-unknown',
  lastInSyncMember: 'last-in-sync-member',
  partnerSameDomain: 'partner-same-domain',
  partnerNotRunning: 'partner-not-running',
  memberNotFaulty: 'member-not-faulty',
  addressMoved: 'address-moved',
  holdersPresent: 'holders-present',
  lastActivePath: 'last-active-path',
  noSuchScsiHost: 'no-such-scsi-host',
  arrayNotRunning: 'array-not-running',
  /** The array's UUID or event count cannot be read, so no superblock can be checked against it. */
  arrayIdentityUnknown: 'array-identity-unknown',
  /** The array under that name is not the one the plan was made for (another UUID). */
  arrayIdentityChanged: 'array-identity-changed',
  /** The member is still listed in the array (faulty): it must be removed before it is added. */
  memberStillInArray: 'member-still-in-array',
  partitionMissing: 'partition-missing',
  deviceNotRunning: 'device-not-running',
  deviceNotReadable: 'device-not-readable',
  /** mdadm cannot say what the partition's superblock holds (or it names no UUID or event count). */
  superblockUnreadable: 'superblock-unreadable',
  superblockOtherArray: 'superblock-other-array',
  /** A partition with no md superblock holds something else: a file system, LVM, swap, LUKS. */
  foreignSignature: 'foreign-signature',
  staleHalfNewer: 'stale-half-newer',
  tooSmall: 'too-small',
  /** `md.zero-superblock` of a partition that no `md.remove` of this plan took out of that array in this run. */
  notRemovedByPlan: 'not-removed-by-plan',
  /** `md.zero-superblock` on a disk no `disk.verify` of this plan passed in this run, or that no longer is what it verified. */
  diskNotVerified: 'disk-not-verified',
  /** `md.zero-superblock` in an array that has a write-intent bitmap: `--re-add` brings its member back without a full rebuild. */
  bitmapPresent: 'bitmap-present',
  /** The in-sync partner on another failure domain runs, but the agent's own read of it fails. */
  partnerNotReadable: 'partner-not-readable',
  mirrorNotFound: 'mirror-not-found',
  componentNotFound: 'component-not-found',
  notInMaintenance: 'not-in-maintenance',
  lastErred: 'last-erred',
  partnerNotOkay: 'partner-not-okay',
  hotSpareInUse: 'hot-spare-in-use',
  metadbUnhealthy: 'metadb-unhealthy',
  /** `svm.metadb-restore` before this plan's `svm.wait-sync` of each repaired mirror succeeded in this run. */
  waitSyncNotSucceeded: 'wait-sync-not-succeeded',
  /** `svm.metadb-restore` of a slice that is not on the disk of this plan's `svm.metareplace`. */
  sliceNotOnRepairedDisk: 'slice-not-on-repaired-disk',
  /** `metadb` gave no answer (missing, timed out, or no state database at all). */
  metadbUnreadable: 'metadb-unreadable',
  noReplicaOnSlice: 'no-replica-on-slice',
  /** A replica on the slice is not in error: deleting it would drop a working copy. */
  replicaNotInError: 'replica-not-in-error',
  /** A replica on another disk is in error or not active. */
  otherReplicaNotActive: 'other-replica-not-active',
  /** The replicas on other disks are fewer than half of all: deleting would leave no majority. */
  tooFewOtherReplicas: 'too-few-other-replicas',
  /** The plan's `count` is not the number of replicas on the slice now. */
  replicaCountMismatch: 'replica-count-mismatch',
  notAPathOfMap: 'not-a-path-of-map',
  ghostPath: 'ghost-path',
  /** `scsi.online` of a device that is not `offline` (blocked, transport-offline, ...): the kernel or the transport owns it. */
  deviceNotOffline: 'device-not-offline',
  /** `scsi.online` of an address with no SCSI device under it: its target is gone. */
  targetGone: 'target-gone',
  /** `scsi.online` where no WWID is known to check the disk against, or the disk's own cannot be read. */
  wwidUnknown: 'wwid-unknown',
  /** A step this agent does not implement (admission refuses such a plan before it runs). */
  unsupportedAction: PLAN_REFUSAL.unsupportedAction,
} as const;
export type StepRefusalCode = (typeof STEP_REFUSAL)[keyof typeof STEP_REFUSAL];

/** Why a step that ran (or waited) failed. */
export const STEP_FAILURE = {
  toolMissing: 'tool-missing',
  toolFailed: 'tool-failed',
  toolTimedOut: 'tool-timed-out',
  /** The tool said it did it, but the host does not show the change. */
  notApplied: 'not-applied',
  sysfsWriteFailed: 'sysfs-write-failed',
  /** The kernel refused the SCSI delete: something holds the device open (EBUSY). */
  deviceBusy: 'device-busy',
  deviceNotDeleted: 'device-not-deleted',
  diskNotBack: 'disk-not-back',
  diskIdentityChanged: 'disk-identity-changed',
  partitionMissing: 'partition-missing',
  superblockMismatch: 'superblock-mismatch',
  /** mdadm refused both `--re-add` and `--add` (for instance a device that reports being an active member). */
  addRefused: 'add-refused',
  syncStalled: 'sync-stalled',
  /** `multipathd reinstate` answered ok, but the path was not back in its former state within `checkSeconds`. */
  pathNotBack: 'path-not-back',
  /** `scsi.online` set the device running, but a direct read of the disk still fails. */
  readFailed: 'read-failed',
  memberFailed: 'member-failed',
  lastErred: 'last-erred',
  arrayNotFound: 'array-not-found',
  mirrorNotFound: 'mirror-not-found',
  stopFile: PLAN_REFUSAL.stopFile,
  /** The agent is stopping: a wait was abandoned. */
  aborted: 'aborted',
  /** An unexpected error: the step's outcome is unknown, so the plan stops. */
  internalError: 'internal-error',
} as const;
export type StepFailureCode = (typeof STEP_FAILURE)[keyof typeof STEP_FAILURE];
