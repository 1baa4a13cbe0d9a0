import { z } from 'zod';
import {
  ArrayName,
  BootId,
  DeviceName,
  DiskName,
  FailureDomain,
  Hctl,
  HostId,
  Identifier,
  MapName,
  MdUuid,
  MetadeviceName,
  Rfc3339,
  ScsiHost,
  Wwid,
} from './names.ts';

/**
 * Remediation plans (cloud → agent, docs/architecture.md §4). Plans and their steps are strict objects: a
 * plan is signed, and an agent must never act on a field it does not understand.
 */

/** The actions of the first contract, which every agent runs that does not list `capabilities`. */
export const FIRST_PLAN_ACTIONS = [
  'disk.probe',
  'md.fail',
  'md.remove',
  'scsi.delete',
  'scsi.rescan',
  'disk.verify',
  'md.add',
  'md.wait-sync',
  'svm.metareplace',
  'svm.wait-sync',
  'multipath.reinstate',
] as const;

export const PLAN_ACTIONS = [
  ...FIRST_PLAN_ACTIONS,
  'md.zero-superblock',
  'scsi.online',
  'svm.metadb-restore',
] as const;
export const PlanAction = z.enum(PLAN_ACTIONS);
export type PlanAction = z.infer<typeof PlanAction>;

const ScsiNumber = z.int().min(0).max(4_294_967_295);
const StallSeconds = z.int().min(1).max(86_400);

export const DiskProbeStep = z.strictObject({
  action: z.literal('disk.probe'),
  disk: DiskName,
  hctl: Hctl.optional(),
  scsiHost: ScsiHost.optional(),
  failureDomain: FailureDomain,
});
export type DiskProbeStep = z.infer<typeof DiskProbeStep>;

export const MdFailStep = z.strictObject({
  action: z.literal('md.fail'),
  array: ArrayName,
  member: DeviceName,
});
export type MdFailStep = z.infer<typeof MdFailStep>;

export const MdRemoveStep = z.strictObject({
  action: z.literal('md.remove'),
  array: ArrayName,
  member: DeviceName,
});
export type MdRemoveStep = z.infer<typeof MdRemoveStep>;

export const ScsiDeleteStep = z.strictObject({ action: z.literal('scsi.delete'), hctl: Hctl });
export type ScsiDeleteStep = z.infer<typeof ScsiDeleteStep>;

export const ScsiRescanStep = z.strictObject({
  action: z.literal('scsi.rescan'),
  scsiHost: ScsiHost,
  channel: ScsiNumber,
  target: ScsiNumber,
  lun: ScsiNumber,
});
export type ScsiRescanStep = z.infer<typeof ScsiRescanStep>;

/** A partition `disk.verify` expects back, with the array its superblock must name. */
export const ExpectedPartition = z.strictObject({
  device: DeviceName,
  array: ArrayName,
  uuid: MdUuid.optional(),
});
export type ExpectedPartition = z.infer<typeof ExpectedPartition>;

export const DiskVerifyStep = z.strictObject({
  action: z.literal('disk.verify'),
  disk: DiskName,
  hctl: Hctl,
  sizeBytes: z.int().min(0).optional(),
  wwid: Wwid.optional(),
  partitions: z.array(ExpectedPartition).max(128),
});
export type DiskVerifyStep = z.infer<typeof DiskVerifyStep>;

export const MdAddStep = z.strictObject({
  action: z.literal('md.add'),
  array: ArrayName,
  member: DeviceName,
  uuid: MdUuid.optional(),
});
export type MdAddStep = z.infer<typeof MdAddStep>;

export const MdWaitSyncStep = z.strictObject({
  action: z.literal('md.wait-sync'),
  array: ArrayName,
  stallSeconds: StallSeconds,
});
export type MdWaitSyncStep = z.infer<typeof MdWaitSyncStep>;

export const SvmMetareplaceStep = z.strictObject({
  action: z.literal('svm.metareplace'),
  mirror: MetadeviceName,
  component: DeviceName,
});
export type SvmMetareplaceStep = z.infer<typeof SvmMetareplaceStep>;

export const SvmWaitSyncStep = z.strictObject({
  action: z.literal('svm.wait-sync'),
  mirror: MetadeviceName,
  stallSeconds: StallSeconds,
});
export type SvmWaitSyncStep = z.infer<typeof SvmWaitSyncStep>;

export const MultipathReinstateStep = z.strictObject({
  action: z.literal('multipath.reinstate'),
  map: MapName,
  path: DiskName,
  /** How long the path has to be back in its former state after the reinstate; 30 when absent. */
  checkSeconds: z.int().min(1).max(3600).optional(),
});
export type MultipathReinstateStep = z.infer<typeof MultipathReinstateStep>;

/**
 * `mdadm --zero-superblock` of a stale member, right before its `md.add`, for an array without a
 * write-intent bitmap: `--re-add` of it fails in every mdadm, and mdadm 3.1.5–3.2.3 also refuse its
 * `--add` ("reports being an active member"); 4.x adds it as a new device, so zeroing is harmless there.
 */
export const MdZeroSuperblockStep = z.strictObject({
  action: z.literal('md.zero-superblock'),
  array: ArrayName,
  member: DeviceName,
  uuid: MdUuid,
});
export type MdZeroSuperblockStep = z.infer<typeof MdZeroSuperblockStep>;

/** A device the SCSI layer set `offline` during the outage set `running` again (a reinstate cannot). */
export const ScsiOnlineStep = z.strictObject({
  action: z.literal('scsi.online'),
  hctl: Hctl,
  disk: DiskName,
});
export type ScsiOnlineStep = z.infer<typeof ScsiOnlineStep>;

/** The state database replicas on the repaired disk's slice, deleted and re-created (`metadb -d`, `metadb -a -c`). */
export const SvmMetadbRestoreStep = z.strictObject({
  action: z.literal('svm.metadb-restore'),
  slice: DeviceName,
  count: z.int().min(1).max(50),
});
export type SvmMetadbRestoreStep = z.infer<typeof SvmMetadbRestoreStep>;

/** One step of a plan, discriminated by `action`; an unknown action is rejected. */
export const PlanStep = z.discriminatedUnion('action', [
  DiskProbeStep,
  MdFailStep,
  MdRemoveStep,
  ScsiDeleteStep,
  ScsiRescanStep,
  DiskVerifyStep,
  MdAddStep,
  MdWaitSyncStep,
  SvmMetareplaceStep,
  SvmWaitSyncStep,
  MultipathReinstateStep,
  MdZeroSuperblockStep,
  ScsiOnlineStep,
  SvmMetadbRestoreStep,
]);
export type PlanStep = z.infer<typeof PlanStep>;

export const PlanMode = z.enum(['execute', 'dry-run']);
export type PlanMode = z.infer<typeof PlanMode>;

/** The largest plan TTL an agent accepts: a plan is meant to run while its wave is current. */
export const MAX_PLAN_TTL_SECONDS = 86_400;

const Steps = z
  .array(PlanStep)
  .min(1, 'a plan has at least one step')
  .max(256)
  .refine((steps) => steps[0]?.action === 'disk.probe', {
    message: 'every plan starts with disk.probe',
    path: [0, 'action'],
  });

/** A base64 ECDSA P-256 signature (ASN.1 DER, as KMS `ECDSA_SHA_256` returns it). */
export const PlanSignature = z
  .string()
  .regex(/^[A-Za-z0-9+/]{16,256}={0,2}$/, 'not a base64 ECDSA signature');

const planFields = {
  id: Identifier,
  incidentId: Identifier,
  hostId: HostId,
  /**
   * The boot of the host the plan was made for, when the control plane knew it: an agent refuses a
   * plan made for an earlier boot (docs/architecture.md §4 "the host id and boot id are its own").
   */
  bootId: BootId.optional(),
  attempt: z.int().min(1).max(1000),
  /** 0 is the canary. */
  wave: z.int().min(0),
  issuedAt: Rfc3339,
  ttlSeconds: z.int().min(1).max(MAX_PLAN_TTL_SECONDS),
  mode: PlanMode,
  steps: Steps,
  /** Run instead of the rest of `steps` when the probe finds the disk already back and intact. */
  fastPath: z.array(PlanStep).min(1).max(256).optional(),
};

/** A plan before signing: what the core decides and what the signature covers. */
export const UnsignedPlan = z.strictObject(planFields);
export type UnsignedPlan = z.infer<typeof UnsignedPlan>;

/** A plan as dispatched to an agent. */
export const Plan = z.strictObject({ ...planFields, signature: PlanSignature });
export type Plan = z.infer<typeof Plan>;
