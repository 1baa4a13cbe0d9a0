import { z } from 'zod';
import { DeviceState, HostSnapshot, PathState } from '../events/index.ts';

/**
 * What detection remembers between two scans, beyond the last snapshot: the progress it last
 * reported per recovering array, the state each lost path had before it was lost (a path is
 * restored when it is back), and the disks that went away (a disk that reappears running is
 * reported with `disk.probed`). Persisted in the state directory so that a restarted agent, or
 * the hook when no agent runs, diffs against what was last reported rather than reporting again.
 */
export const DetectionState = z.object({
  version: z.literal(1),
  /** The boot this state belongs to: after a reboot detection starts afresh. */
  bootId: z.string(),
  snapshot: HostSnapshot,
  /** Percent last reported by `mirror.recovering`, per array. */
  reportedProgress: z.record(z.string(), z.number().min(0).max(100)),
  /** Per lost path (`<wwid> <hctl>`), the healthy state it had before. */
  lostPaths: z.record(z.string(), PathState),
  /** Per disk that went away or offline, how it was last seen. */
  absentDisks: z.record(z.string(), DeviceState),
});
export type DetectionState = z.infer<typeof DetectionState>;
