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
  mirrorNotFound: 'mirror-not-found',
  componentNotFound: 'component-not-found',
  notInMaintenance: 'not-in-maintenance',
  lastErred: 'last-erred',
  partnerNotOkay: 'partner-not-okay',
  hotSpareInUse: 'hot-spare-in-use',
  metadbUnhealthy: 'metadb-unhealthy',
  notAPathOfMap: 'not-a-path-of-map',
  ghostPath: 'ghost-path',
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
