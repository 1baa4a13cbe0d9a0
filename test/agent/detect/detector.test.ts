import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Detector } from '../../../agent/detect/detector.ts';
import { SpoolingEventSink } from '../../../agent/detect/event-sink.ts';
import { returnedDiskProbe } from '../../../agent/detect/returned-disk.ts';
import { MemorySpool } from '../../../agent/spool/memory-spool.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { AgentStateStore } from '../../../agent/state/agent-state.ts';
import { MemoryStateDirectory } from '../../../agent/state/state-directory.ts';
import { parseEvent } from '../../../events/index.ts';
import { BOOT_ID, HOST_ID, hostSnapshot, member, mirror, vscsiDisk } from '../../helpers/agent-snapshots.ts';

const root = mkdtempSync(join(tmpdir(), 'faultline-detector-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const degraded = hostSnapshot({
  arrays: [mirror({ state: 'degraded', members: [member('sda1'), member('sdb1', 'faulty')] })],
});
const observation = (snapshot = degraded) => ({ snapshot, progress: new Map() });

const setup = (directory = new MemoryStateDirectory(), bootId = BOOT_ID) => {
  const log = memoryLog();
  const state = AgentStateStore.open(directory, { hostId: HOST_ID, machineId: undefined }, { log });
  const spool = new MemorySpool(1 << 24, log);
  const sink = new SpoolingEventSink({ identity: { hostId: HOST_ID, bootId }, state, spool, log });
  const detector = Detector.load({ directory, bootId, log, probeReturnedDisk: returnedDiskProbe(root) });
  const spooled = () => spool.peek({ maxEvents: 1000, maxBytes: 1 << 30 });
  return { detector, sink, state, spooled, log, directory };
};

describe('Detector', () => {
  it('remembers what it reported across a restart in the same boot', async () => {
    const first = setup();
    await first.detector.observe(observation(), first.sink);
    expect(first.spooled().map((event) => event.type)).toEqual(['mirror.degraded']);
    const again = setup(first.directory);
    await again.detector.observe(observation(), again.sink);
    expect(again.spooled()).toEqual([]);
  });

  it('starts afresh after a reboot, reporting the faults still present', async () => {
    const first = setup();
    await first.detector.observe(observation(), first.sink);
    const rebooted = setup(first.directory, 'another-boot');
    await rebooted.detector.observe(observation(), rebooted.sink);
    expect(rebooted.spooled().map((event) => event.type)).toEqual(['mirror.degraded']);
  });

  it('sends no heartbeat before the first observation, then one with the digest noted', async () => {
    const { detector, sink, state, spooled } = setup();
    const context = { platform: 'linux', role: 'client', intervalSeconds: 60, capabilities: [] } as const;
    expect(detector.heartbeat(context, sink, state)).toEqual({ event: undefined, changed: false });
    await detector.observe(observation(hostSnapshot()), sink);
    expect(detector.heartbeat(context, sink, state).changed).toBe(true);
    expect(detector.heartbeat(context, sink, state).changed).toBe(false);
    expect(spooled().map((event) => event.type)).toEqual(['host.heartbeat', 'host.heartbeat']);
    expect(state.heartbeatDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sends disk.probed for a disk that came back, readable, with its partitions', async () => {
    mkdirSync(join(root, 'dev'), { recursive: true });
    writeFileSync(join(root, 'dev', 'sdb'), Buffer.alloc(8192, 1));
    for (const partition of ['sdb1', 'sdb2'])
      mkdirSync(join(root, 'sys', 'block', 'sdb', partition), { recursive: true });
    mkdirSync(join(root, 'sys', 'block', 'sdb', 'queue'), { recursive: true });
    const { detector, sink, spooled } = setup();
    await detector.observe(observation(hostSnapshot()), sink);
    await detector.observe(observation(hostSnapshot({ disks: [vscsiDisk('sda')] })), sink);
    await detector.observe(observation(hostSnapshot()), sink);
    const [probed] = spooled();
    expect(parseEvent(probed?.body).ok).toBe(true);
    expect(JSON.parse(probed?.body ?? '{}')).toMatchObject({
      type: 'disk.probed',
      subject: 'sdb',
      data: {
        disk: 'sdb',
        hctl: '1:0:1:0',
        scsiHost: 'host1',
        failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
        deviceState: 'running',
        readable: true,
        partitions: [
          { device: 'sdb1', array: 'md0', uuid: '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a' },
          { device: 'sdb2' },
        ],
      },
    });
  });

  it('says a returned disk is unreadable when its first block cannot be read', async () => {
    const { detector, sink, spooled } = setup();
    await detector.observe(
      observation(hostSnapshot({ disks: [vscsiDisk('sda'), vscsiDisk('sdc', 'offline')] })),
      sink,
    );
    await detector.observe(observation(hostSnapshot({ disks: [vscsiDisk('sda'), vscsiDisk('sdc')] })), sink);
    expect(JSON.parse(spooled()[0]?.body ?? '{}').data).toMatchObject({
      disk: 'sdc',
      readable: false,
      partitions: [],
    });
  });

  it('logs and drops an event that does not satisfy the contract', async () => {
    const { detector, sink, spooled, log } = setup();
    const bad = hostSnapshot({
      arrays: [
        mirror({
          state: 'degraded',
          members: [member('sda1'), { ...member('sdb1', 'faulty'), failureDomain: 'vios2' }],
        }),
      ],
    });
    await detector.observe(observation(bad), sink);
    expect(spooled()).toEqual([]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'event not sent: it does not satisfy the event contract',
      }),
    );
  });
});
