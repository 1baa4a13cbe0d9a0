// The planners on one host's slice (functions/core/planners.ts): what they refuse rather than send a
// plan the agent would refuse, which halts the whole domain (DESIGN §4, §5.5).
import { describe, expect, it } from 'vitest';
import type { FaultlineEvent, Member, PlanStep, ReplicaReport } from '../../../events/index.ts';
import { DEFAULT_CORE_CONFIG } from '../../../functions/core/index.ts';
import type { HostSlice } from '../../../functions/core/model.ts';
import { capabilityRefusal } from '../../../functions/core/planners/capabilities.ts';
import { planFor } from '../../../functions/core/planners.ts';
import { Agent, at, pathEvent, random, SAN_PORT, SEED, vscsi, worldWith } from '../../helpers/core-fleet.ts';
import { type ClientMirror, MdClient } from '../../helpers/core-runbooks.ts';

const VIOS2 = vscsi('vios2');
const MD_UUID = '3f1c2a9e:0b7d4e21:9a8c6f53:12e4b7d0';

/** The host's slice once the core applied the events. */
const sliceAfter = (hostId: string, ...events: FaultlineEvent[]): HostSlice => {
  const { world, feed } = worldWith();
  feed(...events);
  const host = world.hosts.get(hostId);
  if (host === undefined) throw new Error(`no slice for ${hostId}`);
  return host;
};

const planOn = (host: HostSlice, failureDomain = VIOS2) =>
  planFor({ host, failureDomain, config: DEFAULT_CORE_CONFIG, isDomainUp: () => true, downAt: at(100) });

/** A heartbeat of the client with the mirror's arrays reported by `members` instead. */
const reporting = (
  client: MdClient,
  time: string,
  mirror: ClientMirror,
  members: (reported: Member[]) => Member[],
): FaultlineEvent => {
  const event = client.heartbeat(time, [mirror]);
  if (event.type !== 'host.heartbeat') throw new Error('a heartbeat builder changed');
  return {
    ...event,
    data: {
      ...event.data,
      arrays: event.data.arrays.map((array) =>
        array.array === mirror.array ? { ...array, members: members(array.members) } : array,
      ),
    },
  };
};

const PRIMARY = 'vdisk:t5-control/primary';
const ALTERNATE = 'vdisk:t5-control/alternate';

/**
 * The slice of an LDoms guest with `d10` over `c0d0s0`/`c0d1s0` and `d20` over `c0d2s0`/`c0d3s0`,
 * each with its alternate half (`c0d1`, `c0d3`) in Maintenance (`d20`'s Okay with `oneDisk`), and
 * `replicas` in its heartbeat when given.
 */
const twoDiskGuest = (replicas?: ReplicaReport[], options: { oneDisk?: boolean } = {}): HostSlice => {
  const guest = new Agent('ldg-two01');
  const member = (device: string, state: Member['state'], failureDomain: string): Member => ({
    device,
    disk: device.slice(0, -2),
    state,
    failureDomain,
    submirror: `d${device.slice(3, 4)}1`,
  });
  return sliceAfter(
    guest.hostId,
    guest.event(
      'host.heartbeat',
      guest.hostId,
      {
        platform: 'solaris',
        role: 'client',
        agentVersion: '0.1.0',
        intervalSeconds: 60,
        capabilities: ['disk.probe', 'svm.metareplace', 'svm.wait-sync', 'svm.metadb-restore'],
        arrays: [
          {
            array: 'd10',
            kind: 'svm',
            level: 'raid1',
            state: 'degraded',
            members: [member('c0d0s0', 'in-sync', PRIMARY), member('c0d1s0', 'maintenance', ALTERNATE)],
          },
          {
            array: 'd20',
            kind: 'svm',
            level: 'raid1',
            state: options.oneDisk === true ? 'clean' : 'degraded',
            members: [
              member('c0d2s0', 'in-sync', PRIMARY),
              member('c0d3s0', options.oneDisk === true ? 'in-sync' : 'maintenance', ALTERNATE),
            ],
          },
        ],
        paths: [],
        disks: ['c0d0', 'c0d1', 'c0d2', 'c0d3'].map((disk, index) => ({
          disk,
          driver: 'vdc',
          failureDomain: index % 2 === 0 ? PRIMARY : ALTERNATE,
        })),
        ...(replicas === undefined ? {} : { replicas }),
      },
      at(10),
    ),
  );
};

describe(`the planners (seed ${SEED})`, () => {
  it('plans md.remove of a no-bitmap member md no longer lists (udev took it out), so the agent zeroes it only as found out by the plan', () => {
    const client = new MdClient('lnxgone1', random(SEED), { bitmap: () => false });
    const root = client.mirror('root');
    const host = sliceAfter(
      client.hostId,
      client.heartbeat(at(1)),
      reporting(client, at(200), root, (members) =>
        members.filter((member) => member.failureDomain !== VIOS2),
      ),
    );
    const outcome = planOn(host);
    if (outcome.kind !== 'plan') throw new Error(`no plan: ${JSON.stringify(outcome)}`);
    const gone = client.device(root, 'fall');
    const of = (steps: readonly PlanStep[]) =>
      steps.flatMap((step) =>
        'member' in step && step.member === gone && step.action !== 'md.fail' ? [step.action] : [],
      );
    expect(of(outcome.planned.steps)).toEqual(['md.remove', 'md.zero-superblock', 'md.add']);
    expect(of(outcome.planned.fastPath ?? [])).toEqual(['md.remove', 'md.zero-superblock', 'md.add']);
    expect(outcome.planned.steps.filter((step) => step.action === 'md.fail')).not.toContainEqual(
      expect.objectContaining({ member: gone }),
    );
  });

  it('still adds back a removed member of an array with a bitmap', () => {
    const client = new MdClient('lnxgone2', random(SEED + 1));
    const root = client.mirror('root');
    const host = sliceAfter(
      client.hostId,
      client.heartbeat(at(1)),
      reporting(client, at(200), root, (members) =>
        members.filter((member) => member.failureDomain !== VIOS2),
      ),
    );
    const outcome = planOn(host);
    expect(outcome.kind).toBe('plan');
    expect(outcome.kind === 'plan' && outcome.planned.fastPath).toEqual([
      { action: 'md.add', array: root.array, member: client.device(root, 'fall'), uuid: root.uuid },
      { action: 'md.wait-sync', array: root.array, stallSeconds: 600 },
    ]);
  });

  it('never zeroes a member whose only in-sync partner sits on the same failure domain', () => {
    const client = new MdClient('lnxspof1', random(SEED + 2), { bitmap: () => false });
    const root = client.mirror('root');
    const host = sliceAfter(
      client.hostId,
      client.heartbeat(at(1)),
      reporting(client, at(200), root, (members) =>
        members.map((member) => ({ ...member, failureDomain: VIOS2 })),
      ),
    );
    expect(planOn(host)).toEqual({
      kind: 'refuse',
      reason: `${client.device(root, 'fall')} would be zeroed with no in-sync member of ${root.array} on another up domain`,
    });
  });

  it('takes a host not heard from yet to run the actions agents ran before capabilities, and none added since', () => {
    const quiet = new Agent('dbquiet1');
    const host = sliceAfter(quiet.hostId, pathEvent(quiet, 'path.lost', 10, 'sdq', 'failed', 1));
    expect(host.capabilities).toBeUndefined();
    expect(planOn(host, SAN_PORT).kind).toBe('plan');
    const zero: PlanStep = { action: 'md.zero-superblock', array: 'md0', member: 'sdb1', uuid: MD_UUID };
    expect(
      capabilityRefusal(host, {
        steps: [{ action: 'disk.probe', disk: 'sdb', failureDomain: VIOS2 }, zero],
        touches: [],
      }),
    ).toBe(
      'the plan needs md.zero-superblock, and its agent has not said it runs it (no heartbeat with its capabilities yet)',
    );
  });

  it('pages a host whose platform runs no runbook (AIX, IBM i) rather than send it a reinstate', () => {
    const aix = new Agent('aixdb01');
    const host = sliceAfter(
      aix.hostId,
      aix.event(
        'host.heartbeat',
        aix.hostId,
        {
          platform: 'aix',
          role: 'client',
          agentVersion: '0.1.0',
          intervalSeconds: 60,
          capabilities: [],
          arrays: [],
          paths: [
            {
              map: 'hdisk4',
              wwid: '3600507680c80810c1800000000000a40',
              path: 'hdisk4',
              hctl: '1:0:2:0',
              failureDomain: 'fc:500507680c110a3f',
              state: 'failed',
            },
          ],
          disks: [],
        },
        at(10),
      ),
    );
    expect(planOn(host, 'fc:500507680c110a3f')).toEqual({
      kind: 'refuse',
      reason:
        "the plan needs disk.probe, multipath.reinstate, which its agent does not run (not in its heartbeat's capabilities)",
    });
  });

  it('plans every virtual disk of a guest the returned service domain serves at once: each probed, then its components, then the waits', () => {
    const host = twoDiskGuest();
    const outcome = planOn(host, ALTERNATE);
    expect(outcome.kind === 'plan' && outcome.planned.steps).toEqual([
      { action: 'disk.probe', disk: 'c0d1', failureDomain: ALTERNATE },
      { action: 'disk.probe', disk: 'c0d3', failureDomain: ALTERNATE },
      { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' },
      { action: 'svm.metareplace', mirror: 'd20', component: 'c0d3s0' },
      { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 600 },
      { action: 'svm.wait-sync', mirror: 'd20', stallSeconds: 600 },
    ]);
  });
});

describe('the svm-ldoms planner and the state database replicas (DESIGN §4)', () => {
  const slices = (states: Record<string, 'active' | 'erred' | 'idle' | 'half'>): ReplicaReport[] =>
    Object.entries(states).map(([slice, state]) => ({
      slice,
      count: 2,
      active: state === 'active' ? 2 : state === 'half' ? 1 : 0,
      erred: state === 'erred' ? 2 : state === 'half' ? 1 : 0,
    }));
  /** The restores planned for the guest with `c0d1` alone to repair. */
  const restoresOf = (replicas: ReplicaReport[]) => {
    const outcome = planOn(twoDiskGuest(replicas, { oneDisk: true }), ALTERNATE);
    if (outcome.kind !== 'plan') throw new Error(`no plan: ${JSON.stringify(outcome)}`);
    return outcome.planned.steps.filter((step) => step.action === 'svm.metadb-restore');
  };

  it('plans a guest whose replicas are in error on both repaired disks: both re-created, by name, after the waits', () => {
    const outcome = planOn(
      twoDiskGuest(slices({ c0d0s7: 'active', c0d1s7: 'erred', c0d2s7: 'active', c0d3s7: 'erred' })),
      ALTERNATE,
    );
    if (outcome.kind !== 'plan') throw new Error(`no plan: ${JSON.stringify(outcome)}`);
    expect(outcome.planned.steps.map((step) => step.action)).toEqual([
      'disk.probe',
      'disk.probe',
      'svm.metareplace',
      'svm.metareplace',
      'svm.wait-sync',
      'svm.wait-sync',
      'svm.metadb-restore',
      'svm.metadb-restore',
    ]);
    expect(outcome.planned.steps.slice(-2)).toEqual([
      { action: 'svm.metadb-restore', slice: 'c0d1s7', count: 2 },
      { action: 'svm.metadb-restore', slice: 'c0d3s7', count: 2 },
    ]);
    expect(outcome.planned.attention).toBeUndefined();
  });

  it('refuses a guest whose replicas are in error off the disks being repaired', () => {
    const outcome = planOn(
      twoDiskGuest(slices({ c0d0s7: 'active', c0d1s7: 'erred', c0d2s7: 'erred' }), { oneDisk: true }),
      ALTERNATE,
    );
    expect(outcome).toEqual({
      kind: 'refuse',
      reason: expect.stringMatching(
        /^state database replicas in error off c0d1, the disk being repaired: c0d2s7/,
      ),
    });
  });

  it('refuses a guest with fewer than half of its replicas active, and plans one with exactly half', () => {
    expect(
      planOn(twoDiskGuest(slices({ c0d0s7: 'idle', c0d1s7: 'active', c0d2s7: 'idle' })), ALTERNATE),
    ).toEqual({
      kind: 'refuse',
      reason: expect.stringMatching(/^only 2 of 6 state database replicas are active/),
    });
    expect(restoresOf(slices({ c0d0s7: 'active', c0d1s7: 'erred' }))).toEqual([
      { action: 'svm.metadb-restore', slice: 'c0d1s7', count: 2 },
    ]);
  });

  it('repairs the mirrors and names for a person the replicas in error it cannot re-create', () => {
    const attentionOf = (replicas: ReplicaReport[]) => {
      const outcome = planOn(twoDiskGuest(replicas, { oneDisk: true }), ALTERNATE);
      if (outcome.kind !== 'plan') throw new Error(`no plan: ${JSON.stringify(outcome)}`);
      expect(outcome.planned.steps.filter((step) => step.action === 'svm.metareplace')).toHaveLength(1);
      return outcome.planned.attention;
    };
    expect(attentionOf(slices({ c0d0s7: 'active', c0d1s7: 'half', c0d2s7: 'active' }))).toMatch(
      /^state database replicas in error on c0d1s7 \(1 of 2 in error\) are not re-created by the plan \(only some of their replicas are in error/,
    );
    expect(
      attentionOf([
        ...slices({ c0d0s7: 'active', c0d1s7: 'erred', c0d2s7: 'active' }),
        { slice: 'c0d2s6', count: 1, active: 0, erred: 0 },
      ]),
    ).toContain('(the replicas off c0d1 are not all active)');
    expect(
      attentionOf([
        { slice: 'c0d0s7', count: 1, active: 1, erred: 0 },
        ...slices({ c0d1s6: 'active', c0d1s7: 'erred' }),
      ]),
    ).toContain('(the replicas off c0d1 are 1 of 5, fewer than half)');
    expect(attentionOf(slices({ c0d0s7: 'active', c0d1s7: 'erred', c0d2s7: 'active' }))).toBeUndefined();
  });

  it('restores only slices all in error, and only while the other disks hold active replicas, at least half', () => {
    // A slice partly in error is left: the agent re-creates only a slice whose replicas are all in error.
    expect(restoresOf(slices({ c0d0s7: 'active', c0d1s7: 'half', c0d2s7: 'active' }))).toEqual([]);
    // An idle replica on another disk: the agent would refuse the restore (other-replica-not-active).
    expect(
      restoresOf([
        ...slices({ c0d0s7: 'active', c0d1s7: 'erred', c0d2s7: 'active' }),
        { slice: 'c0d2s6', count: 1, active: 0, erred: 0 },
      ]),
    ).toEqual([]);
    // Fewer than half on other disks, the rest active on the repaired one (too-few-other-replicas).
    expect(
      restoresOf([
        { slice: 'c0d0s7', count: 1, active: 1, erred: 0 },
        ...slices({ c0d1s6: 'active', c0d1s7: 'erred' }),
      ]),
    ).toEqual([]);
    // Two slices of the repaired disk in error, restored by name; c0d10s7 is another disk's.
    expect(
      restoresOf([
        ...slices({ c0d0s7: 'active', c0d2s7: 'active', c0d3s7: 'active' }),
        { slice: 'c0d1s7', count: 1, active: 0, erred: 1 },
        { slice: 'c0d1s6', count: 1, active: 0, erred: 1 },
        { slice: 'c0d10s7', count: 2, active: 2, erred: 0 },
      ]),
    ).toEqual([
      { action: 'svm.metadb-restore', slice: 'c0d1s6', count: 1 },
      { action: 'svm.metadb-restore', slice: 'c0d1s7', count: 1 },
    ]);
  });
});
