import { z } from 'zod';
import { FailureDomain, Rfc3339 } from '../../events/index.ts';
import type { AgentLog } from '../state/agent-log.ts';
import { STATE_FILES, type StateDirectory } from '../state/state-directory.ts';

/**
 * What a server's agent must remember across its own restarts (`serve.json` in the state
 * directory): the boot whose IPL it last announced, so a restart in the same boot announces
 * nothing and a new boot is announced once; its own failure domain as last derived, so
 * `announce going-down` at shutdown needs no tool; on a VIOS, what served when it last served, so
 * that after its next boot it waits for those and for no left-over device; and, on a control
 * domain, what it last saw of each service domain, so a transition is announced once even across
 * restarts.
 */

export const AnnouncedBoot = z.object({
  /** The boot's key: the kernel's boot id, or where there is none the boot record (`who -b`, in UTC). */
  bootKey: z.string().min(1).max(128),
  bootedAt: Rfc3339.optional(),
  announcedAt: Rfc3339,
  failureDomain: FailureDomain,
});
export type AnnouncedBoot = z.infer<typeof AnnouncedBoot>;

export const RecordedServiceDomain = z.object({
  /** Running (active, not stopping, not in transition) when last seen. */
  up: z.boolean(),
  /** When it was last seen in that condition, and its uptime then. */
  seenAt: Rfc3339,
  uptimeSeconds: z.int().min(0).nullable(),
});
export type RecordedServiceDomain = z.infer<typeof RecordedServiceDomain>;

/** The most serving units a VIOS's record keeps: far above any real VIOS's virtual devices. */
export const MAX_RECORDED_SERVING_UNITS = 20_000;

export const ViosServed = z.object({
  /** `vtd:<virtual target device>` `Available`, `vfchost:<adapter>` its client logged in through. */
  units: z.array(z.string().min(1).max(128)).max(MAX_RECORDED_SERVING_UNITS),
  /** The boot it last served in, and when this record last changed. */
  bootKey: z.string().min(1).max(128),
  recordedAt: Rfc3339,
});
export type ViosServed = z.infer<typeof ViosServed>;

export const ServeStateFile = z.object({
  version: z.literal(1),
  announcedBoot: AnnouncedBoot.optional(),
  /** The failure domains this server announces as its own (a hosting partition's, a control domain's). */
  ownDomains: z.array(FailureDomain).max(16).optional(),
  /** A VIOS: what served when it last served (probes/vios-lsmap.ts `viosServing`). */
  viosServed: ViosServed.optional().catch(undefined),
  serviceDomains: z.record(z.string(), RecordedServiceDomain).default({}),
});
export type ServeStateFile = z.infer<typeof ServeStateFile>;

const EMPTY: ServeStateFile = { version: 1, serviceDomains: {} };

/** `serve.json`, read once and written whole (atomically) on every change. */
export class ServeStateStore {
  private current: ServeStateFile;

  private constructor(
    private readonly directory: StateDirectory,
    private readonly log: AgentLog,
    initial: ServeStateFile,
  ) {
    this.current = initial;
  }

  /** Loads the file; one that cannot be read or parsed is logged and replaced. */
  static open(directory: StateDirectory, log: AgentLog): ServeStateStore {
    let initial = EMPTY;
    try {
      const text = directory.read(STATE_FILES.serve);
      if (text !== undefined) {
        const parsed = ServeStateFile.safeParse(JSON.parse(text));
        if (parsed.success) initial = parsed.data;
        else
          log.warn(
            `${STATE_FILES.serve} is not a server state; starting afresh (the next boot is announced)`,
          );
      }
    } catch (error) {
      log.warn(`cannot read ${STATE_FILES.serve}; starting afresh (the next boot is announced)`, { error });
    }
    return new ServeStateStore(directory, log, initial);
  }

  get state(): ServeStateFile {
    return this.current;
  }

  /** Changes the state in memory only: what a restart may forget without harm. */
  updateInMemory(change: (state: ServeStateFile) => ServeStateFile): void {
    this.current = change(this.current);
  }

  /** Changes the state and writes it; a failed write is logged (a restart may then announce again). */
  update(change: (state: ServeStateFile) => ServeStateFile): void {
    this.current = change(this.current);
    try {
      this.directory.writeAtomic(STATE_FILES.serve, `${JSON.stringify(this.current, null, 2)}\n`);
    } catch (error) {
      this.log.warn(`cannot write ${STATE_FILES.serve}; a restart may announce this boot again`, { error });
    }
  }
}
