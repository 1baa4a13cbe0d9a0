import { afterEach, describe, expect, it } from 'vitest';
import { executePlan, type PlanExecution } from '../../../agent/executor/plan-executor.ts';
import { createProgramRunner } from '../../../agent/executor/programs.ts';
import { createDdReader } from '../../../agent/scan/direct-read.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import type { PlanMode, PlanStep } from '../../../events/index.ts';
import type { EventDraft } from '../../../probes/event-draft.ts';
import type { FakeModel, FakePath } from '../../../sim/fake-host/host-model.mjs';
import { createFakeHost, type FakeHost, MPATH_WWID, multipathModel } from '../../helpers/fake-host.ts';
import { FAKE_TIMING, signed } from './field-case.ts';
import { KEYS, planOn } from './harness.ts';

/**
 * `multipath.reinstate` judged by the map, not by multipathd's `ok`, and `scsi.online` of a path
 * the SCSI layer set offline during the outage, on a SAN host whose map `mpatha` has `sdd`
 * (4:0:0:0) as the leg that went down. The plan runs through the executor itself (the steps'
 * guards and outcomes; admission is plan-admission.test.ts's), with the fake tools as processes,
 * the fake `dd` for the direct read, and the host's clock, on which `checkSeconds` pass in no time.
 */

const SAN_HOST = 'sanhost01.example.net';
const LOCAL = `local:${SAN_HOST}`;
const SDD = { disk: 'sdd', hctl: '4:0:0:0' } as const;

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const made of hosts.splice(0)) made.remove();
});

const pathOf = (model: FakeModel, device: string): FakePath => {
  const path = model.multipath[0]?.paths.find((candidate) => candidate.device === device);
  if (path === undefined) throw new Error(`no path ${device}`);
  return path;
};

/** The kernel took sdd's device offline after the outage's I/O errors; multipathd shows `failed faulty offline`. */
const offlineLeg = (model: FakeModel): void => {
  const lun = model.luns[SDD.hctl];
  if (lun !== undefined) lun.state = 'offline';
  Object.assign(pathOf(model, SDD.disk), { dmState: 'failed', checker: 'faulty', online: 'offline' });
};

/** sdd's device runs, but its target does not answer yet: the checker keeps it `failed faulty running`. */
const targetStillGone = (model: FakeModel): void => {
  const lun = model.luns[SDD.hctl];
  if (lun !== undefined) lun.exported = false;
};

const san = (...changes: ((model: FakeModel) => void)[]): FakeHost => {
  const model = multipathModel(SAN_HOST);
  for (const change of changes) change(model);
  const host = createFakeHost(model);
  hosts.push(host);
  return host;
};

const probe = (disk: string, hctl: string): PlanStep => ({
  action: 'disk.probe',
  disk,
  hctl,
  failureDomain: LOCAL,
});

type Executed = { execution: PlanExecution; drafts: EventDraft[]; elapsedMs: number };

/** Runs the steps on the fake host as the executor runs an admitted plan. */
const execute = async (
  host: FakeHost,
  steps: [PlanStep, ...PlanStep[]],
  mode: PlanMode = 'execute',
): Promise<Executed> => {
  const drafts: EventDraft[] = [];
  const started = host.clock.now();
  const execution = await executePlan(signed(planOn(host, steps, { mode }), KEYS), {
    host: {
      root: host.root,
      hostId: SAN_HOST,
      topology: undefined,
      runProgram: createProgramRunner(host.searchPath),
      directRead: createDdReader({ platform: 'linux', searchPath: host.searchPath }),
    },
    clock: host.clock,
    timing: FAKE_TIMING,
    writeSysfs: host.writeSysfs,
    stopRequested: async () => false,
    emit: (draft) => drafts.push(draft),
    log: memoryLog(),
  });
  return { execution, drafts, elapsedMs: host.clock.now() - started };
};

const lastStep = (executed: Executed) => executed.execution.steps[executed.execution.steps.length - 1];

const reinstateSdd = (checkSeconds?: number): PlanStep => ({
  action: 'multipath.reinstate',
  map: 'mpatha',
  path: SDD.disk,
  ...(checkSeconds === undefined ? {} : { checkSeconds }),
});
const onlineSdd: PlanStep = { action: 'scsi.online', hctl: SDD.hctl, disk: SDD.disk };
const STATE_WRITE = ['write', `/sys/class/scsi_device/${SDD.hctl}/device/state`, 'running\n'];
const REINSTATE = ['multipathd', 'reinstate', 'path', SDD.disk];

describe('multipath.reinstate', () => {
  it('fails with path-not-back when multipathd answers ok but the checker fails the path again (its target is still gone)', async () => {
    const host = san(targetStillGone);
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), reinstateSdd(20)]);
    expect(run.execution.outcome).toBe('failed');
    expect(lastStep(run)).toMatchObject({
      action: 'multipath.reinstate',
      outcome: 'failed',
      code: 'path-not-back',
    });
    expect(lastStep(run)?.detail).toContain(
      'multipathd reinstate path sdd: ok, but sdd of mpatha is not back after 20 s',
    );
    expect(lastStep(run)?.detail).toContain('failed faulty running');
    expect(host.actions()).toEqual([REINSTATE]);
    // The whole wait is on the host's clock: 20 s pass there, none here.
    expect(run.elapsedMs).toBeGreaterThanOrEqual(20_000);
    expect(run.elapsedMs).toBeLessThan(25_000);
    expect(pathOf(host.model(), SDD.disk)).toMatchObject({ dmState: 'failed', checker: 'faulty' });
  });

  it('waits 30 s by default before it calls the path not back', async () => {
    const host = san(targetStillGone);
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), reinstateSdd()]);
    expect(lastStep(run)).toMatchObject({ outcome: 'failed', code: 'path-not-back' });
    expect(run.elapsedMs).toBeGreaterThanOrEqual(30_000);
    expect(run.elapsedMs).toBeLessThan(35_000);
  });

  it('fails at once when the path’s SCSI device is offline: a reinstate alone cannot bring it back', async () => {
    const host = san(offlineLeg);
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), reinstateSdd(30)]);
    expect(lastStep(run)).toMatchObject({ outcome: 'failed', code: 'path-not-back' });
    expect(lastStep(run)?.detail).toContain('the SCSI device of sdd is offline');
    expect(lastStep(run)?.detail).toContain('scsi.online');
    expect(host.actions()).toEqual([REINSTATE]);
    expect(run.elapsedMs).toBeLessThan(30_000);
    expect(host.model().luns[SDD.hctl]?.state).toBe('offline');
  });

  it('succeeds only once the map shows the path active ready running again', async () => {
    const host = san();
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), reinstateSdd(30)]);
    expect(run.execution.outcome).toBe('succeeded');
    expect(lastStep(run)?.detail).toMatch(/sdd of mpatha is back \(active ready running\) after [1-9]\d* s/);
    expect(pathOf(host.model(), SDD.disk)).toMatchObject({
      dmState: 'active',
      checker: 'ready',
      online: 'running',
    });
  });

  it('takes a path of the standby group back as the ghost it was', async () => {
    const host = san((model) => {
      Object.assign(pathOf(model, 'sdf'), { dmState: 'failed', checker: 'faulty' });
    });
    const run = await execute(host, [
      probe('sdf', '4:0:1:0'),
      { action: 'multipath.reinstate', map: 'mpatha', path: 'sdf' },
    ]);
    expect(run.execution.outcome).toBe('succeeded');
    expect(lastStep(run)?.detail).toContain('is back (active ghost running)');
  });

  it('in a dry-run checks the path and reports what it would run, running nothing', async () => {
    const host = san(targetStillGone);
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), reinstateSdd(30)], 'dry-run');
    expect(lastStep(run)).toMatchObject({ outcome: 'skipped' });
    expect(lastStep(run)?.detail).toContain('would run: multipathd reinstate path sdd');
    expect(host.actions()).toEqual([]);
  });
});

describe('scsi.online', () => {
  it('sets the offline leg running, checks it reads, and then the reinstate brings the path back', async () => {
    const host = san(offlineLeg);
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), onlineSdd, reinstateSdd(30)]);
    expect(run.execution.outcome).toBe('succeeded');
    expect(run.execution.steps.map((step) => [step.action, step.outcome])).toEqual([
      ['disk.probe', 'succeeded'],
      ['scsi.online', 'succeeded'],
      ['multipath.reinstate', 'succeeded'],
    ]);
    expect(run.execution.steps[1]?.detail).toContain(
      `echo running > /sys/class/scsi_device/${SDD.hctl}/device/state: sdd, wwid ${MPATH_WWID}`,
    );
    expect(host.actions()).toEqual([STATE_WRITE, REINSTATE]);
    expect(host.model().luns[SDD.hctl]?.state).toBe('running');
    expect(pathOf(host.model(), SDD.disk)).toMatchObject({
      dmState: 'active',
      checker: 'ready',
      online: 'running',
    });
  });

  it('fails with read-failed when the disk still does not read once running, and reinstates nothing', async () => {
    const host = san(offlineLeg, (model) => {
      const lun = model.luns[SDD.hctl];
      if (lun !== undefined) lun.readable = false;
    });
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), onlineSdd, reinstateSdd(30)]);
    expect(lastStep(run)).toMatchObject({ action: 'scsi.online', outcome: 'failed', code: 'read-failed' });
    expect(lastStep(run)?.detail).toContain("dd: error reading '/dev/sdd': Input/output error");
    expect(host.actions()).toEqual([STATE_WRITE]);
  });

  it('refuses a device that is not offline (device-not-offline), and skips one already running', async () => {
    // The FC transport's own state (its remote port is not back): the transport brings it back, not the agent.
    const transport = san(offlineLeg, (model) => {
      const lun = model.luns[SDD.hctl];
      if (lun !== undefined) lun.state = 'transport-offline';
    });
    const refused = await execute(transport, [probe(SDD.disk, SDD.hctl), onlineSdd]);
    expect(lastStep(refused)).toMatchObject({ outcome: 'refused', code: 'device-not-offline' });
    expect(lastStep(refused)?.detail).toContain('sdd at 4:0:0:0 is transport-offline, not offline');
    expect(transport.actions()).toEqual([]);

    const running = san();
    const skipped = await execute(running, [probe(SDD.disk, SDD.hctl), onlineSdd]);
    expect(lastStep(skipped)).toMatchObject({ outcome: 'skipped' });
    expect(running.actions()).toEqual([]);
  });

  it('refuses an address that resolves to another disk (address-moved)', async () => {
    const host = san(offlineLeg);
    const run = await execute(host, [
      probe(SDD.disk, SDD.hctl),
      { action: 'scsi.online', hctl: SDD.hctl, disk: 'sde' },
    ]);
    expect(lastStep(run)).toMatchObject({ outcome: 'refused', code: 'address-moved' });
    expect(lastStep(run)?.detail).toContain('4:0:0:0 resolves to sdd, not sde');
    expect(host.actions()).toEqual([]);
  });

  it('refuses a disk whose WWID is not the one its map knows: another LUN at the address (address-moved)', async () => {
    const host = san(offlineLeg, (model) => {
      const lun = model.luns[SDD.hctl];
      if (lun !== undefined) lun.wwid = '36005076801810523f8000000000000c9';
    });
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), onlineSdd]);
    expect(lastStep(run)).toMatchObject({ outcome: 'refused', code: 'address-moved' });
    expect(lastStep(run)?.detail).toContain(
      `holds sdd with wwid 36005076801810523f8000000000000c9, not ${MPATH_WWID} (multipathd's map mpatha)`,
    );
    expect(host.actions()).toEqual([]);
  });

  it('refuses a disk of another map than the plan reinstates (address-moved)', async () => {
    const host = san(offlineLeg);
    const run = await execute(host, [
      probe(SDD.disk, SDD.hctl),
      onlineSdd,
      { action: 'multipath.reinstate', map: 'mpathb', path: SDD.disk },
    ]);
    expect(lastStep(run)).toMatchObject({ action: 'scsi.online', outcome: 'refused', code: 'address-moved' });
    expect(lastStep(run)?.detail).toContain('sdd is a path of mpatha, not of mpathb as planned');
  });

  it('refuses an address whose SCSI device is gone (target-gone)', async () => {
    const host = san(offlineLeg, (model) => {
      const lun = model.luns[SDD.hctl];
      if (lun !== undefined) lun.attached = null;
    });
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), onlineSdd]);
    expect(lastStep(run)).toMatchObject({ outcome: 'refused', code: 'target-gone' });
    expect(host.actions()).toEqual([]);
  });

  it('refuses a disk whose WWID nothing it knows names (wwid-unknown)', async () => {
    const host = san(offlineLeg, (model) => {
      const map = model.multipath[0];
      if (map !== undefined) map.paths = map.paths.filter((path) => path.device !== SDD.disk);
    });
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), onlineSdd]);
    expect(lastStep(run)).toMatchObject({ outcome: 'refused', code: 'wwid-unknown' });
    expect(host.actions()).toEqual([]);
  });

  it('in a dry-run checks everything and writes nothing', async () => {
    const host = san(offlineLeg);
    const run = await execute(host, [probe(SDD.disk, SDD.hctl), onlineSdd], 'dry-run');
    expect(lastStep(run)).toMatchObject({ action: 'scsi.online', outcome: 'skipped' });
    expect(lastStep(run)?.detail).toContain(
      `would run: echo running > /sys/class/scsi_device/${SDD.hctl}/device/state`,
    );
    expect(host.actions()).toEqual([]);
    expect(host.model().luns[SDD.hctl]?.state).toBe('offline');
  });
});

describe('disk.probe', () => {
  it('reads the disk through dd: an offline device is not readable, with dd’s own words', async () => {
    const host = san(offlineLeg);
    const run = await execute(host, [probe(SDD.disk, SDD.hctl)]);
    const probed = run.drafts.find((draft) => draft.type === 'disk.probed');
    expect(probed?.data).toMatchObject({ disk: SDD.disk, deviceState: 'offline', readable: false });
    expect(run.execution.steps[0]?.detail).toContain(
      "sdd is not readable (dd: failed to open '/dev/sdd': No such device or address)",
    );
    expect(host.reads()).toContainEqual([
      'dd',
      'if=/dev/sdd',
      'of=/dev/null',
      'bs=4096',
      'count=1',
      'iflag=direct',
    ]);
  });
});
