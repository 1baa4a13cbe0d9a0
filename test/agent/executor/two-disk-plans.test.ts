import { afterEach, describe, expect, it } from 'vitest';
import type { FaultlineEvent } from '../../../events/index.ts';
import { type FakeHost, progressRows } from '../../helpers/fake-host.ts';
import { LAYOUT, VIOS2 } from './harness.ts';
import { DATA, executeOn, twoDiskClient, twoDiskPlan } from './md-harness.ts';

/**
 * A plan over every disk of the host the failure domain serves (DESIGN §4): one `disk.probe` per
 * disk first, then each disk's steps. The executor probes them all, takes the fast path only when
 * every one of them qualifies, and checks each step against the probe of its own disk.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

const client = (sdb: 'offline' | 'back', sdd: 'offline' | 'back'): FakeHost => {
  const host = twoDiskClient(sdb, sdd);
  hosts.push(host);
  return host;
};

const allInSync = (host: FakeHost) =>
  Object.values(host.model().arrays).every(
    (array) =>
      array.recovery === null &&
      array.members.length === 2 &&
      array.members.every((member) => member.state === 'in_sync'),
  );

const probedDisks = (events: readonly FaultlineEvent[]) =>
  events.flatMap((event) => (event.type === 'disk.probed' ? [event.data.disk] : []));

/** The detail of the finished `command.progress` of step `number` on `branch`. */
const detailOf = (events: readonly FaultlineEvent[], number: number, branch: string) =>
  events.flatMap((event) =>
    event.type === 'command.progress' &&
    event.data.step === number &&
    event.data.branch === branch &&
    event.data.outcome !== 'started'
      ? [event.data.detail ?? '']
      : [],
  )[0];

describe('a plan over two disks of the down domain', () => {
  it('probes both and takes the fast path for both when both came back intact', async () => {
    const host = client('back', 'back');
    const plan = twoDiskPlan(host);

    const { execution, events } = await executeOn(host, plan);

    expect(execution).toMatchObject({ outcome: 'succeeded', branch: 'fastPath' });
    expect(probedDisks(events)).toEqual(['sdb', 'sdd']);
    expect(progressRows(events)).toEqual([
      [0, 'steps', 'disk.probe', 'started', undefined],
      [0, 'steps', 'disk.probe', 'succeeded', undefined],
      [1, 'steps', 'disk.probe', 'started', undefined],
      [1, 'steps', 'disk.probe', 'succeeded', undefined],
      ...(plan.fastPath ?? []).flatMap((step, index) => [
        [index, 'fastPath', step.action, 'started', undefined],
        [index, 'fastPath', step.action, 'succeeded', undefined],
      ]),
    ]);
    expect(detailOf(events, 1, 'steps')).toContain('plan → fast path (all 2 probed disks qualify)');
    // Only the faulty members go back; nothing healthy is failed, no LUN is deleted.
    expect(host.actions()).toEqual([
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
      ['mdadm', '/dev/md2', '--remove', '/dev/sdd1'],
      ['mdadm', '/dev/md2', '--re-add', '/dev/sdd1'],
    ]);
    expect(allInSync(host)).toBe(true);
  });

  it.each([
    { sdb: 'back', sdd: 'offline', notQualifying: 'sdd' },
    { sdb: 'offline', sdd: 'back', notQualifying: 'sdb' },
  ] as const)(
    'takes the full path, healing both, when $notQualifying did not come back intact',
    async ({ sdb, sdd, notQualifying }) => {
      const host = client(sdb, sdd);
      const plan = twoDiskPlan(host);

      const { execution, events } = await executeOn(host, plan);

      expect(execution).toMatchObject({ outcome: 'succeeded', branch: 'steps' });
      expect(probedDisks(events)).toEqual(['sdb', 'sdd']);
      expect(progressRows(events)).toEqual(
        plan.steps.flatMap((step, index) => [
          [index, 'steps', step.action, 'started', undefined],
          [index, 'steps', step.action, 'succeeded', undefined],
        ]),
      );
      expect(detailOf(events, 1, 'steps')).toContain(
        `plan → steps (${notQualifying} does not qualify for the fast path)`,
      );
      expect(host.actions()).toEqual([
        ['mdadm', '/dev/md1', '--fail', '/dev/sdb2'],
        ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
        ['mdadm', '/dev/md1', '--remove', '/dev/sdb2'],
        ['write', `/sys/class/scsi_device/${LAYOUT.hctl}/device/delete`, '1'],
        ['write', `/sys/class/scsi_host/${LAYOUT.scsiHost}/scan`, '0 2 0'],
        ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
        ['mdadm', '/dev/md1', '--re-add', '/dev/sdb2'],
        ['mdadm', '/dev/md2', '--remove', '/dev/sdd1'],
        ['write', `/sys/class/scsi_device/${DATA.remote.hctl}/device/delete`, '1'],
        ['write', `/sys/class/scsi_host/${LAYOUT.scsiHost}/scan`, `0 ${DATA.remote.target} 0`],
        ['mdadm', '/dev/md2', '--re-add', '/dev/sdd1'],
      ]);
      expect(allInSync(host)).toBe(true);
      for (const hctl of [LAYOUT.hctl, DATA.remote.hctl])
        expect(host.model().luns[hctl]).toMatchObject({ state: 'running', readable: true });
    },
  );

  it('in a dry-run checks each step against the probe of its own disk, and runs nothing', async () => {
    const host = client('offline', 'offline');
    const plan = twoDiskPlan(host, { mode: 'dry-run' });
    const before = host.model();

    const { execution, events } = await executeOn(host, plan);

    expect(host.actions()).toEqual([]);
    expect(host.model()).toEqual(before);
    expect(execution).toMatchObject({ outcome: 'succeeded', branch: 'steps' });
    expect(progressRows(events)).toEqual(
      plan.steps.flatMap((step, index) => [
        [index, 'steps', step.action, 'started', undefined],
        [index, 'steps', step.action, index < 2 ? 'succeeded' : 'skipped', undefined],
      ]),
    );
    const number = (action: string, matches: (step: (typeof plan.steps)[number]) => boolean) =>
      plan.steps.findIndex((step) => step.action === action && matches(step));
    // sdd's LUN is deleted as sdd, on the domain its own probe names, not refused as "not sdb".
    const deleteSdd = detailOf(
      events,
      number('scsi.delete', (step) => step.action === 'scsi.delete' && step.hctl === DATA.remote.hctl),
      'steps',
    );
    expect(deleteSdd).toContain(`would run: echo 1 >`);
    expect(deleteSdd).toContain(`(sdd on ${VIOS2}, nothing holds it)`);
    // sdd1 goes back after sdd's own delete and rescan: what only the returned disk shows is left for later.
    const addSdd1 = detailOf(
      events,
      number('md.add', (step) => step.action === 'md.add' && step.member === 'sdd1'),
      'steps',
    );
    expect(addSdd1).toContain('checked once the disk is back');
  });
});
