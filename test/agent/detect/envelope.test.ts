import { describe, expect, it } from 'vitest';
import { eventId, sealEvent } from '../../../agent/detect/envelope.ts';
import {
  AGENT_VERSION,
  heartbeatDigest,
  heartbeatDraft,
  heartbeatInventory,
} from '../../../agent/detect/heartbeat.ts';
import { parseEvent } from '../../../events/index.ts';
import type { EventDraft } from '../../../probes/event-draft.ts';
import { detectChanges } from '../../../probes/snapshot-diff.ts';
import {
  BOOT_ID,
  HOST_ID,
  hostSnapshot,
  member,
  mirror,
  multipathMap,
} from '../../helpers/agent-snapshots.ts';

const identity = { hostId: HOST_ID, bootId: BOOT_ID };
const time = new Date('2026-11-22T03:12:09.412Z');

const everyDetectedDraft = (): EventDraft[] => {
  const healthy = hostSnapshot();
  const degraded = hostSnapshot({
    arrays: [mirror({ state: 'degraded', members: [member('sda1'), member('sdb1', 'faulty')] })],
    maps: [multipathMap({ sdd: 'failed' })],
  });
  const recovering = hostSnapshot({
    arrays: [mirror({ state: 'recovering', members: [member('sda1'), member('sdb1', 'rebuilding')] })],
  });
  const first = detectChanges(undefined, healthy);
  const second = detectChanges(first.state, degraded);
  const third = detectChanges(second.state, recovering, new Map([['md0', { progress: 12.5 }]]));
  const fourth = detectChanges(third.state, healthy);
  return [...second.drafts, ...third.drafts, ...fourth.drafts];
};

describe('sealEvent', () => {
  it('wraps every detected change in a CloudEvent that parseEvent accepts', () => {
    const drafts = everyDetectedDraft();
    expect(drafts.map((draft) => draft.type).sort()).toEqual([
      'mirror.degraded',
      'mirror.healthy',
      'mirror.recovering',
      'path.lost',
      'path.restored',
    ]);
    drafts.forEach((draft, index) => {
      const sealed = sealEvent(draft, identity, 1041 + index, time);
      if (!sealed.ok) expect.fail(JSON.stringify(sealed.issues));
      const reparsed = parseEvent(sealed.outbound.body);
      expect(reparsed.ok).toBe(true);
      expect(sealed.event).toMatchObject({
        specversion: '1.0',
        id: `${HOST_ID}:${BOOT_ID}:${1041 + index}`,
        source: `faultline-agent://${HOST_ID}`,
        time: '2026-11-22T03:12:09.412Z',
        subject: draft.subject,
        datacontenttype: 'application/json',
        hostid: HOST_ID,
        bootid: BOOT_ID,
        seq: 1041 + index,
      });
      expect(JSON.parse(sealed.outbound.body)).not.toHaveProperty('receivedat');
      expect(sealed.outbound).toMatchObject({ id: sealed.event.id, seq: 1041 + index, type: draft.type });
    });
  });

  it('sends a heartbeat with the arrays, paths and disks of the snapshot and its extension attributes', () => {
    const snapshot = hostSnapshot();
    const draft = heartbeatDraft(snapshot, {
      platform: 'linux',
      role: 'client',
      intervalSeconds: 60,
      capabilities: [],
    });
    const sealed = sealEvent(draft, identity, 7, time, { statestore: 'fallback', instanceid: 'i-1' });
    if (!sealed.ok) expect.fail(JSON.stringify(sealed.issues));
    expect(sealed.event.data).toMatchObject({
      agentVersion: AGENT_VERSION,
      paths: [
        expect.objectContaining({ map: 'mpatha', path: 'sdc', state: 'active' }),
        expect.objectContaining({ map: 'mpatha', path: 'sdd', state: 'active' }),
      ],
    });
    expect(JSON.parse(sealed.outbound.body)).toMatchObject({ statestore: 'fallback', instanceid: 'i-1' });
    expect(JSON.parse(sealed.outbound.body).data.disks[0]).not.toHaveProperty('deviceState');
  });

  it("sends an SVM guest's state database replicas per slice, and none when its scan read none", () => {
    const replicas = [
      { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 0, erred: 3 },
    ];
    const context = {
      platform: 'solaris',
      role: 'client',
      intervalSeconds: 60,
      capabilities: ['disk.probe', 'svm.metareplace', 'svm.wait-sync', 'svm.metadb-restore'],
    } as const;
    const guest = hostSnapshot({ platform: 'solaris', arrays: [], maps: [], disks: [], replicas });
    const sealed = sealEvent(heartbeatDraft(guest, context), identity, 8, time);
    if (!sealed.ok) expect.fail(JSON.stringify(sealed.issues));
    expect(sealed.event.data).toMatchObject({ replicas });
    const { replicas: _unread, ...unread } = guest;
    const silent = sealEvent(heartbeatDraft(unread, context), identity, 9, time);
    if (!silent.ok) expect.fail(JSON.stringify(silent.issues));
    expect(silent.event.data).not.toHaveProperty('replicas');
  });

  it('refuses a draft the cloud would reject, with the issues, instead of spooling it', () => {
    const sealed = sealEvent(
      {
        type: 'mirror.healthy',
        subject: 'md0',
        data: { array: '/dev/md0', kind: 'md', level: 'raid1', members: [] },
      },
      identity,
      1,
      time,
    );
    expect(sealed.ok).toBe(false);
    if (!sealed.ok) expect(sealed.issues[0]?.path).toEqual(['data', 'array']);
  });

  it('keeps event ids within 128 characters for a very long host id', () => {
    const hostId = `${'a'.repeat(60)}.${'b'.repeat(60)}.example.net`;
    const id = eventId({ hostId, bootId: BOOT_ID }, 12);
    expect(id.length).toBeLessThanOrEqual(128);
    expect(id.endsWith(`:${BOOT_ID}:12`)).toBe(true);
  });
});

describe('heartbeatDigest', () => {
  it('is the same for the same storage whatever the scan time, and changes with a member state', () => {
    const first = heartbeatInventory(hostSnapshot());
    const later = heartbeatInventory(hostSnapshot({ takenAt: '2026-11-22T04:00:00.000Z' }));
    const degraded = heartbeatInventory(
      hostSnapshot({
        arrays: [mirror({ state: 'degraded', members: [member('sda1'), member('sdb1', 'faulty')] })],
      }),
    );
    expect(heartbeatDigest(first)).toBe(heartbeatDigest(later));
    expect(heartbeatDigest(first)).not.toBe(heartbeatDigest(degraded));
    expect(heartbeatDigest(first)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when the replicas a returned disk kept in error are re-created, and leaves a host without replicas as it was', () => {
    const erred = heartbeatInventory(
      hostSnapshot({ replicas: [{ slice: 'c0d1s7', count: 3, active: 0, erred: 3 }] }),
    );
    const restored = heartbeatInventory(
      hostSnapshot({ replicas: [{ slice: 'c0d1s7', count: 3, active: 3, erred: 0 }] }),
    );
    expect(heartbeatDigest(erred)).not.toBe(heartbeatDigest(restored));
    expect(Object.keys(heartbeatInventory(hostSnapshot())).sort()).toEqual(['arrays', 'disks', 'paths']);
  });
});
