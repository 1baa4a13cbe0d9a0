import { canonicalJson, type HostSnapshot } from '../../events/index.ts';
import { DetectionState } from '../../probes/detection-state.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import { detectChanges, disksReadAgain, type RecoveryProgress } from '../../probes/snapshot-diff.ts';
import type { OutboundEvent } from '../publish/outbound-event.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { AgentStateStore } from '../state/agent-state.ts';
import { STATE_FILES, type StateDirectory } from '../state/state-directory.ts';
import type { DiskProbeReport } from './disk-watch.ts';
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
 *
 * Clients confirm (§3): a disk the disk watch probes (disk-watch.ts) that did not read at the last
 * scan and reads now is reported with `disk.probed` (no `planid` unless a plan runs), once; and
 * again if what it reads (its WWID, its superblocks' UUIDs) changes while it keeps reading. The
 * last scan's `readable` is in the recorded snapshot, so a disk unreadable before a restart of the
 * agent and readable after it is reported too; the identity last reported is kept in memory only
 * (after a restart the first read-back is taken as reported).
 */

/** A scan's result as detection needs it: the snapshot, each syncing array's progress, the disk watch's probes. */
export type HostObservation = {
  snapshot: HostSnapshot;
  progress: ReadonlyMap<string, RecoveryProgress>;
  /** Per probed disk, its `disk.probed` and what it read; none when nothing is watched. */
  probes?: ReadonlyMap<string, DiskProbeReport>;
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
  /** Per probed disk that reads, the identity (WWID, superblock UUIDs) last reported or first seen. */
  private readonly readBack = new Map<string, string>();

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
    const watched = observation.probes ?? new Map<string, DiskProbeReport>();
    const probes: EventDraft[] = [];
    const reported = new Set<string>();
    for (const disk of changes.returnedDisks) {
      // A watched disk that came back is reported with the probe the watch just made.
      const probe = watched.get(disk.disk);
      if (probe !== undefined) {
        probes.push(probe.draft);
        reported.add(disk.disk);
        continue;
      }
      try {
        probes.push(await probeReturnedDisk(disk, observation.snapshot));
      } catch (error) {
        log.warn('cannot probe a disk that came back', { disk: disk.disk, error });
      }
    }
    const readBack = new Map(
      [...watched].flatMap(([disk, probe]) =>
        probe.draft.data.readable ? [[disk, probe.identity] as const] : [],
      ),
    );
    for (const disk of disksReadAgain(this.state?.snapshot, observation.snapshot, readBack, this.readBack)) {
      const probe = watched.get(disk);
      if (probe === undefined || reported.has(disk)) continue;
      probes.push(probe.draft);
      reported.add(disk);
    }
    for (const [disk, identity] of readBack) {
      if (reported.has(disk) || !this.readBack.has(disk)) this.readBack.set(disk, identity);
    }
    for (const disk of [...this.readBack.keys()]) if (!readBack.has(disk)) this.readBack.delete(disk);
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
