import { afterEach, describe, expect, it } from 'vitest';
import { type PlanRunResult, runPlan } from '../../../agent/executor/plan-runner.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import type { Plan } from '../../../events/index.ts';
import { SEED } from '../../helpers/core-fleet.ts';
import { type FakeHost, fakeMdClient, progressRows, recordingSink } from '../../helpers/fake-host.ts';
import { FAKE_TIMING, type FieldCase, planKeys, signed, vios2FieldCase } from './field-case.ts';

const keys = planKeys();
const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

const execute = async (host: FakeHost, plan: Plan, field: FieldCase) => {
  const model = host.model();
  const sink = recordingSink({ hostId: model.hostId, bootId: model.bootId }, host.clock.now);
  const log = memoryLog();
  const result: PlanRunResult = await runPlan(plan, {
    config: host.config({ planPublicKey: keys.publicKey, hostId: field.layout.hostId }),
    identity: { hostId: model.hostId, bootId: model.bootId },
    sink,
    log,
    searchPath: host.searchPath,
    writeSysfs: host.writeSysfs,
    clock: host.clock,
    timing: FAKE_TIMING,
  });
  return { result, events: sink.events, log };
};

const allInSync = (host: FakeHost) =>
  Object.values(host.model().arrays).every(
    (array) =>
      array.recovery === null &&
      array.members.length === 2 &&
      array.members.every((member) => member.state === 'in_sync'),
  );

describe(`the executor on the vios2 field case (seed ${SEED})`, () => {
  it('runs the field order on an offline half (fail the in-sync swap member, remove both, delete, rescan, add both, wait) and leaves the host healthy', async () => {
    const field = vios2FieldCase(SEED);
    const { layout } = field;
    const host = fakeMdClient(layout, 'offline');
    hosts.push(host);
    const plan = signed(field.plan, keys);

    const { result, events } = await execute(host, plan, field);

    const [rootMirror, swapMirror] = layout.mirrors;
    if (rootMirror === undefined || swapMirror === undefined) throw new Error('two mirrors expected');
    const member = (mirror: typeof rootMirror) => `/dev/${layout.remoteDisk}${mirror.partition}`;
    const removes = plan.steps.flatMap((step) =>
      step.action === 'md.remove' ? [['mdadm', `/dev/${step.array}`, '--remove', `/dev/${step.member}`]] : [],
    );
    const adds = plan.steps.flatMap((step) =>
      step.action === 'md.add' ? [['mdadm', `/dev/${step.array}`, '--re-add', `/dev/${step.member}`]] : [],
    );
    const [, channel, target, lun] = layout.hctl.split(':');
    expect(removes).toHaveLength(2);
    expect(adds).toHaveLength(2);
    expect(host.actions()).toEqual([
      ['mdadm', `/dev/${swapMirror.array}`, '--fail', member(swapMirror)],
      ...removes,
      ['write', `/sys/class/scsi_device/${layout.hctl}/device/delete`, '1'],
      ['write', `/sys/class/scsi_host/${layout.scsiHost}/scan`, `${channel} ${target} ${lun}`],
      ...adds,
    ]);
    expect(result).toMatchObject({ planId: plan.id, outcome: 'succeeded', branch: 'steps' });
    expect(allInSync(host)).toBe(true);
    expect(host.model().luns[layout.hctl]).toMatchObject({ attached: layout.remoteDisk, state: 'running' });

    // Every step reported started then succeeded, numbered from the probe (0) on the steps branch.
    const rows = progressRows(events);
    expect(rows).toEqual(
      plan.steps.flatMap((step, index) => [
        [index, 'steps', step.action, 'started', undefined],
        [index, 'steps', step.action, 'succeeded', undefined],
      ]),
    );
    // Every event a step caused carries the plan's id.
    expect(events.every((event) => event.planid === plan.id)).toBe(true);
    const probed = events.find((event) => event.type === 'disk.probed');
    expect(probed?.data).toMatchObject({ disk: layout.remoteDisk, deviceState: 'offline', readable: false });
    expect(events.some((event) => event.type === 'mirror.recovering')).toBe(true);
    const finished = events.filter(
      (event) => event.type === 'command.progress' && event.data.outcome !== 'started',
    );
    for (const event of finished) {
      if (event.type !== 'command.progress') continue;
      expect(event.data.durationMs).toBeGreaterThanOrEqual(0);
      expect(event.data.detail?.length).toBeGreaterThan(0);
    }
  });

  it('runs only the fast path when the disk came back readable by itself: the faulty root member is re-added, the swap member is left alone', async () => {
    const field = vios2FieldCase(SEED);
    const { layout } = field;
    const host = fakeMdClient(layout, 'back');
    hosts.push(host);
    const plan = signed(field.plan, keys);

    const { result, events } = await execute(host, plan, field);

    const [rootMirror] = layout.mirrors;
    if (rootMirror === undefined) throw new Error('a root mirror expected');
    const rootMember = `/dev/${layout.remoteDisk}${rootMirror.partition}`;
    expect(host.actions()).toEqual([
      ['mdadm', `/dev/${rootMirror.array}`, '--remove', rootMember],
      ['mdadm', `/dev/${rootMirror.array}`, '--re-add', rootMember],
    ]);
    expect(result).toMatchObject({ outcome: 'succeeded', branch: 'fastPath' });
    expect(allInSync(host)).toBe(true);
    expect(progressRows(events)).toEqual([
      [0, 'steps', 'disk.probe', 'started', undefined],
      [0, 'steps', 'disk.probe', 'succeeded', undefined],
      ...(plan.fastPath ?? []).flatMap((step, index) => [
        [index, 'fastPath', step.action, 'started', undefined],
        [index, 'fastPath', step.action, 'succeeded', undefined],
      ]),
    ]);
    const probed = events.find((event) => event.type === 'disk.probed');
    expect(probed?.planid).toBe(plan.id);
    expect(probed?.data).toMatchObject({ disk: layout.remoteDisk, deviceState: 'running', readable: true });
    if (probed?.type !== 'disk.probed') throw new Error('no disk.probed');
    expect(probed.data.partitions.map((partition) => partition.device).sort()).toEqual(
      layout.mirrors.map((mirror) => `${layout.remoteDisk}${mirror.partition}`).sort(),
    );
  });

  it('reports every step of a dry-run and runs none', async () => {
    const field = vios2FieldCase(SEED);
    const host = fakeMdClient(field.layout, 'offline');
    hosts.push(host);
    const plan = signed({ ...field.plan, mode: 'dry-run' }, keys);
    const before = host.model();

    const { result, events } = await execute(host, plan, field);

    expect(host.actions()).toEqual([]);
    expect(host.model()).toEqual(before);
    expect(result).toMatchObject({ outcome: 'succeeded', branch: 'steps' });
    const rows = progressRows(events);
    expect(rows).toEqual(
      plan.steps.flatMap((step, index) => [
        [index, 'steps', step.action, 'started', undefined],
        [index, 'steps', step.action, index === 0 ? 'succeeded' : 'skipped', undefined],
      ]),
    );
    const details = events.flatMap((event) =>
      event.type === 'command.progress' && event.data.outcome === 'skipped' ? [event.data.detail ?? ''] : [],
    );
    expect(details.every((detail) => detail.startsWith('would run: '))).toBe(true);
    expect(details.join('\n')).toContain(`--fail /dev/${field.layout.remoteDisk}2`);
    expect(details.join('\n')).toContain(`/sys/class/scsi_device/${field.layout.hctl}/device/delete`);
  });
});
