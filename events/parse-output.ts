import { z } from 'zod';
import { ArrayName, DeviceName, DiskName, Hctl, MapName, MetadeviceName, Wwid } from './names.ts';
import { ArrayState, LdomsDomain, LspathOutput, LsvgOutput, RaidLevel } from './storage.ts';

/**
 * The JSON `faultline-agent parse mdstat|multipath|metastat|metadb|ldm|lsvg|lspath` prints
 * (docs/architecture.md §6; the AIX shapes live beside the other AIX names in storage.ts).
 */

const Percent = z.number().min(0).max(100);
const ToolText = z.string().max(64);

export const MdstatMemberFlag = z.enum(['faulty', 'spare', 'write-mostly', 'replacement', 'journal']);
export type MdstatMemberFlag = z.infer<typeof MdstatMemberFlag>;

export const MdstatMember = z.object({
  device: DeviceName,
  /** The number in brackets: a descriptor number, not a slot in the `[UU]` string. */
  index: z.int().min(0),
  flags: z.array(MdstatMemberFlag),
});
export type MdstatMember = z.infer<typeof MdstatMember>;

export const MdstatArray = z.object({
  name: ArrayName,
  /** Absent (null) for an inactive array, whose personality the kernel does not print. */
  level: RaidLevel.nullable(),
  state: ArrayState,
  degraded: z.boolean(),
  /** `[total/active]`; null where the kernel prints no such count (inactive, raid0, linear). */
  total: z.int().min(0).nullable(),
  active: z.int().min(0).nullable(),
  /** Percent of the running recovery, resync, check or reshape; null when none runs. */
  progress: Percent.nullable(),
  members: z.array(MdstatMember),
});
export type MdstatArray = z.infer<typeof MdstatArray>;

export const MdstatOutput = z.object({ arrays: z.array(MdstatArray) });
export type MdstatOutput = z.infer<typeof MdstatOutput>;

export const MultipathDmState = z.enum(['active', 'failed', 'undef']);
export type MultipathDmState = z.infer<typeof MultipathDmState>;
export const MultipathPathState = z.enum([
  'ready',
  'ghost',
  'faulty',
  'shaky',
  'i/o pending',
  'i/o timeout',
  'delayed',
  'undef',
]);
export type MultipathPathState = z.infer<typeof MultipathPathState>;

export const MultipathPath = z.object({
  /** Null for an orphan path printed as `#:#:#:# -`. */
  device: DiskName.nullable(),
  hctl: Hctl.nullable(),
  dmState: MultipathDmState,
  pathState: MultipathPathState,
  /** The SCSI device state sysfs reports (`running`, `offline`, `blocked`, ...). */
  onlineState: z.string().regex(/^[a-z][a-z-]{0,31}$/, 'not a device state such as running'),
});
export type MultipathPath = z.infer<typeof MultipathPath>;

export const MultipathMap = z.object({
  name: MapName,
  wwid: Wwid,
  vendor: ToolText,
  product: ToolText,
  queueIfNoPath: z.boolean(),
  paths: z.array(MultipathPath),
});
export type MultipathMap = z.infer<typeof MultipathMap>;

export const MultipathOutput = z.object({ maps: z.array(MultipathMap) });
export type MultipathOutput = z.infer<typeof MultipathOutput>;

export const SubmirrorState = z.enum(['Okay', 'Resyncing', 'Needs maintenance', 'Last Erred', 'Unavailable']);
export type SubmirrorState = z.infer<typeof SubmirrorState>;
export const ComponentState = z.enum(['Okay', 'Resyncing', 'Maintenance', 'Last Erred', 'Unavailable']);
export type ComponentState = z.infer<typeof ComponentState>;

export const MetastatSubmirror = z.object({
  name: MetadeviceName,
  state: SubmirrorState,
  component: DeviceName,
  componentState: ComponentState,
});
export type MetastatSubmirror = z.infer<typeof MetastatSubmirror>;

export const MetastatMirror = z.object({
  name: MetadeviceName,
  resyncProgress: Percent.nullable(),
  submirrors: z.array(MetastatSubmirror),
});
export type MetastatMirror = z.infer<typeof MetastatMirror>;

export const MetastatOutput = z.object({ mirrors: z.array(MetastatMirror) });
export type MetastatOutput = z.infer<typeof MetastatOutput>;

export const LdmOutput = z.object({ domains: z.array(LdomsDomain) });
export type LdmOutput = z.infer<typeof LdmOutput>;

/**
 * A state database replica of `metadb -i` (§6 `parse metadb`): its slice (`c0d1s7`), its flag
 * letters as printed without the blanks between them (`amluo`, `Wpl`), whether SVM commits to it
 * (`a` and no error) and whether it carries an error flag (`W`, `R`, `M`, `D`, `F`, `S`, `B`).
 */
export const MetadbReplicaOutput = z.object({
  slice: DeviceName,
  flags: z.string().regex(/^[A-Za-z]{0,20}$/, 'not metadb flag letters such as amluo'),
  active: z.boolean(),
  errors: z.boolean(),
});
export type MetadbReplicaOutput = z.infer<typeof MetadbReplicaOutput>;

export const MetadbOutput = z.object({ replicas: z.array(MetadbReplicaOutput) });
export type MetadbOutput = z.infer<typeof MetadbOutput>;

/** The §6 outputs by the tool name `parse` takes. */
export const PARSE_OUTPUTS = {
  mdstat: MdstatOutput,
  multipath: MultipathOutput,
  metastat: MetastatOutput,
  metadb: MetadbOutput,
  ldm: LdmOutput,
  lsvg: LsvgOutput,
  lspath: LspathOutput,
} as const;
