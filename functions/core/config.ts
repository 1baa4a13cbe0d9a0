import { z } from 'zod';

/**
 * The knobs of docs/architecture.md §5, with its defaults. Every timing is in seconds so a test or the local
 * runtime's `faultline.json` can run a whole incident in seconds.
 */

export const RunbookMode = z.enum(['dry-run', 'approve', 'auto']);
export type RunbookMode = z.infer<typeof RunbookMode>;

/** The runbook a failure domain's kind selects: md over vSCSI, SVM over LDoms vdisks, SAN multipath. */
export const Runbook = z.enum(['md-vscsi', 'svm-ldoms', 'multipath']);
export type Runbook = z.infer<typeof Runbook>;

const Seconds = z
  .number()
  .min(0)
  .max(7 * 86_400);

export const CoreConfig = z.strictObject({
  /** Symptoms from `minClientsForOutage` clients within this window take their server down. */
  groupingWindowSeconds: Seconds.default(30),
  minClientsForOutage: z.int().min(1).max(1000).default(2),
  /** A lone symptom waits this long for other clients before it is paged as a local fault. */
  holdDownSeconds: Seconds.default(120),
  /** Plans start only after the domain has stayed up this long. */
  stabilitySeconds: Seconds.default(60),
  /** At most this many plans in flight per failure domain after the canary. */
  maxPlansInFlight: z.int().min(1).max(1000).default(4),
  /** How long an agent has to fetch and start a plan. */
  planTtlSeconds: z.int().min(1).max(86_400).default(900),
  /** A plan slot expires when its host has sent nothing for this long. */
  slotTimeoutSeconds: Seconds.default(900),
  /** `md.wait-sync` and `svm.wait-sync` fail only after this long without progress. */
  stallSeconds: z.int().min(1).max(86_400).default(600),
  /**
   * A plan with no progress for this long (no step started or finished, no rise in a resync's synced
   * sectors), or this long after its steps succeeded with its host still unhealthy, escalates (§5.9).
   */
  planStallSeconds: z.int().min(1).max(86_400).default(900),
  /** A path still failed this long after its domain is up gets `multipath.reinstate`. */
  pathReinstateDelaySeconds: Seconds.default(120),
  /** `multipath.reinstate` succeeds only if its path is back in its former state within this long (§4). */
  reinstateCheckSeconds: z.int().min(1).max(3600).default(30),
  /** After `flapLimit` downs within `flapWindowSeconds` during waves, the domain stays halted. */
  flapLimit: z.int().min(1).max(100).default(3),
  flapWindowSeconds: Seconds.default(3600),
  /** A server down longer than this pages (once per incident). */
  escalateDownSeconds: Seconds.default(1800),
  /** A host is silent after this many missed heartbeats. */
  silentHeartbeats: z.int().min(1).max(100).default(3),
  defaultHeartbeatSeconds: z.int().min(1).max(86_400).default(60),
  runbooks: z
    .strictObject({
      'md-vscsi': RunbookMode.default('auto'),
      'svm-ldoms': RunbookMode.default('auto'),
      multipath: RunbookMode.default('auto'),
    })
    .default({ 'md-vscsi': 'auto', 'svm-ldoms': 'auto', multipath: 'auto' }),
});
export type CoreConfig = z.infer<typeof CoreConfig>;
export type CoreConfigInput = z.input<typeof CoreConfig>;

/** The defaults of docs/architecture.md §5. */
export const DEFAULT_CORE_CONFIG: CoreConfig = CoreConfig.parse({});
