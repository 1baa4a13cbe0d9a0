import { canonicalJson, type HostSnapshot } from '../../events/index.ts';
import { DetectionState } from '../../probes/detection-state.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import { detectChanges, type RecoveryProgress } from '../../probes/snapshot-diff.ts';
import type { OutboundEvent } from '../publish/outbound-event.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { AgentStateStore } from '../state/agent-state.ts';
import { STATE_FILES, type StateDirectory } from '../state/state-directory.ts';
import type { EventSink } from './event-sink.ts';
import { type HeartbeatContext, heartbeatDigest, heartbeatDraft, heartbeatInventory } from './heartbeat.ts';
import type { ReturnedDiskProbe } from './returned-disk.ts';

/**
 * Detection with its memory: each observation is diffed against the last (probes/snapshot-diff.ts),
 * the drafts are spooled through the sink, and only then is the new detection state written to
 * the state directory. A crash in between makes the next start report the change again (a
 * duplicate the cloud absorbs), never lose it. The state is kept per boot: after a reboot, or on a
 * host whose state was inherited from another machine (a clone), detection starts afresh and
 * reports whatever faults are present.
 */

/** A scan's result as detection needs it: the snapshot and each syncing array's progress. */
export type HostObservation = {
  snapshot: HostSnapshot;
  progress: ReadonlyMap<string, RecoveryProgress>;
};

export type DetectorOptions = {
  directory: StateDirectory;
  bootId: string;
  log: AgentLog;
  probeReturnedDisk: ReturnedDiskProbe;
  /** Ignore what the directory holds: it belongs to another machine (a clone). */
  discardRecorded?: boolean;
};

/** The detection state as written, without the scan time, so an unchanged host is not rewritten. */
const persistedForm = (state: DetectionState): string =>
  canonicalJson({ ...state, snapshot: { ...state.snapshot, takenAt: '' } });

export class Detector {
  private state: DetectionState | undefined;
  private written: string | undefined;

  private constructor(private readonly options: DetectorOptions) {}

  /** Loads what detection last saw in this boot, if anything. */
  static load(options: DetectorOptions): Detector {
    const detector = new Detector(options);
    if (!options.discardRecorded) detector.state = detector.readRecorded();
    if (detector.state !== undefined) detector.written = persistedForm(detector.state);
    return detector;
  }

  /** The last snapshot observed (or recorded in this boot). */
  get latest(): HostSnapshot | undefined {
    return this.state?.snapshot;
  }

  /** Diffs an observation, probes returned disks, spools the events, then records the new state. */
  async observe(observation: HostObservation, sink: EventSink): Promise<OutboundEvent[]> {
    const { log, probeReturnedDisk, bootId } = this.options;
    const changes = detectChanges(this.state, observation.snapshot, observation.progress);
    const probes: EventDraft[] = [];
    for (const disk of changes.returnedDisks) {
      try {
        probes.push(await probeReturnedDisk(disk, observation.snapshot));
      } catch (error) {
        log.warn('cannot probe a disk that came back', { disk: disk.disk, error });
      }
    }
    const events = sink.emit([...changes.drafts, ...probes]);
    this.state = { ...changes.state, bootId };
    this.record();
    return events;
  }

  /**
   * Spools a heartbeat of the latest snapshot; none before the first scan succeeded (a heartbeat
   * with no arrays would tell the cloud the host has none). Records its digest in the state.
   */
  heartbeat(
    context: HeartbeatContext,
    sink: EventSink,
    state: AgentStateStore,
  ): { event: OutboundEvent | undefined; changed: boolean } {
    const snapshot = this.latest;
    if (snapshot === undefined) return { event: undefined, changed: false };
    const digest = heartbeatDigest(heartbeatInventory(snapshot));
    const changed = digest !== state.heartbeatDigest;
    const [event] = sink.emit([heartbeatDraft(snapshot, context)]);
    if (event !== undefined) state.noteHeartbeatDigest(digest);
    return { event, changed };
  }

  private readRecorded(): DetectionState | undefined {
    const { directory, bootId, log } = this.options;
    let text: string | undefined;
    try {
      text = directory.read(STATE_FILES.detection);
    } catch (error) {
      log.warn(`cannot read ${STATE_FILES.detection}; detection starts afresh`, { error });
      return undefined;
    }
    if (text === undefined) return undefined;
    try {
      const parsed = DetectionState.safeParse(JSON.parse(text));
      if (!parsed.success) {
        log.warn(`${STATE_FILES.detection} is not a detection state; detection starts afresh`);
        return undefined;
      }
      return parsed.data.bootId === bootId ? parsed.data : undefined;
    } catch {
      log.warn(`${STATE_FILES.detection} is not JSON; detection starts afresh`);
      return undefined;
    }
  }

  private record(): void {
    if (this.state === undefined) return;
    const form = persistedForm(this.state);
    if (form === this.written) return;
    try {
      this.options.directory.writeAtomic(STATE_FILES.detection, JSON.stringify(this.state));
      this.written = form;
    } catch (error) {
      this.options.log.warn(`cannot write ${STATE_FILES.detection}; a restart may report changes again`, {
        error,
      });
    }
  }
}
