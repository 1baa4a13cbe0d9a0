import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMultipath } from '../../probes/multipath.ts';
import { pathStateOf } from '../../probes/report-states.ts';
import type { FakeModel } from '../../sim/fake-host/host-model.mjs';
import { runTool } from '../../sim/fake-host/tools.mjs';
import { createFakeHost, type FakeHost, multipathModel } from '../helpers/fake-host.ts';

/**
 * The fake multipathd answers as multipath-tools does: `ok` to a reinstate whatever becomes of the
 * path, the checker failing it again a tick later while its SCSI device is offline or its target
 * silent; and the fake kernel takes `running` into an offline device's `state` as
 * `store_state_field` does.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

const SDD_HCTL = '4:0:0:0';

const san = (change: (model: FakeModel) => void = () => undefined): FakeHost => {
  const model = multipathModel('sanhost01.example.net');
  change(model);
  const host = createFakeHost(model);
  hosts.push(host);
  return host;
};

/** The kernel set sdd's device offline; multipathd last saw it `failed faulty offline`. */
const offlineSdd = (model: FakeModel): void => {
  const lun = model.luns[SDD_HCTL];
  if (lun !== undefined) lun.state = 'offline';
  const path = model.multipath[0]?.paths.find((candidate) => candidate.device === 'sdd');
  if (path !== undefined) Object.assign(path, { dmState: 'failed', checker: 'faulty', online: 'offline' });
};

const multipathd = (host: FakeHost, ...args: string[]) => runTool('multipathd', args, host.root);

const sddLine = (host: FakeHost): string | undefined =>
  multipathd(host, 'show', 'paths')
    .stdout.split('\n')
    .find((line: string) => line.includes(' sdd '));

const statePath = (host: FakeHost) =>
  join(host.root, 'sys', 'class', 'scsi_device', SDD_HCTL, 'device', 'state');

describe('the fake multipathd', () => {
  it('answers ok to reinstating an offline path, which the checker fails again at its next tick', async () => {
    const host = san(offlineSdd);
    expect(multipathd(host, 'reinstate', 'path', 'sdd')).toMatchObject({ code: 0, stdout: 'ok\n' });
    // PATH_UNCHECKED until the checker's next tick; dev_st is still the daemon's last view.
    expect(sddLine(host)).toBe('4:0:0:0 sdd 8:48  50  active undef  offline XX........ 1/5  ');
    await host.clock.sleep(1_000);
    expect(multipathd(host, 'show', 'paths').stdout).toBe(
      [
        'hcil    dev dev_t pri dm_st  chk_st dev_st  next_check      ',
        '3:0:0:0 sdc 8:32  50  active ready  running XXXXX..... 10/20',
        '4:0:0:0 sdd 8:48  50  failed faulty offline XXXXX..... 10/20',
        '3:0:1:0 sde 8:64  10  active ghost  running XXXXX..... 10/20',
        '4:0:1:0 sdf 8:80  10  active ghost  running XXXXX..... 10/20',
        '',
      ].join('\n'),
    );
  });

  it('keeps a path failed while its target does not answer, its device running', async () => {
    const host = san((model) => {
      const lun = model.luns[SDD_HCTL];
      if (lun !== undefined) lun.exported = false;
    });
    expect(multipathd(host, 'reinstate', 'path', 'sdd').stdout).toBe('ok\n');
    await host.clock.sleep(1_000);
    const sdd = parseMultipath(multipathd(host, 'show', 'topology').stdout).maps[0]?.paths.find(
      (path) => path.device === 'sdd',
    );
    expect(sdd).toMatchObject({ dmState: 'failed', pathState: 'faulty', onlineState: 'running' });
  });

  it('answers "device not found" for a path it does not have', () => {
    const host = san();
    expect(multipathd(host, 'reinstate', 'path', 'sdz')).toMatchObject({
      code: 1,
      stdout: 'device not found\n',
    });
  });
});

describe('the fake kernel’s SCSI device state', () => {
  it('takes "running\\n" as echo writes it, refuses a bare "running" (EINVAL), and then the path comes back', async () => {
    const host = san(offlineSdd);
    expect(
      runTool('dd', ['if=/dev/sdd', 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct'], host.root),
    ).toMatchObject({
      code: 1,
      stderr: "dd: failed to open '/dev/sdd': No such device or address\n",
    });
    await expect(host.writeSysfs(statePath(host), 'running')).rejects.toMatchObject({ code: 'EINVAL' });
    expect(host.model().luns[SDD_HCTL]?.state).toBe('offline');
    await host.writeSysfs(statePath(host), 'running\n');
    expect(host.model().luns[SDD_HCTL]?.state).toBe('running');
    expect(
      runTool('dd', ['if=/dev/sdd', 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct'], host.root).code,
    ).toBe(0);
    // multipathd has not checked it since: it still shows what it saw last.
    expect(sddLine(host)).toContain('failed faulty offline');
    expect(multipathd(host, 'reinstate', 'path', 'sdd').stdout).toBe('ok\n');
    await host.clock.sleep(1_000);
    const sdd = parseMultipath(multipathd(host, 'show', 'topology').stdout).maps[0]?.paths.find(
      (path) => path.device === 'sdd',
    );
    expect(sdd === undefined ? undefined : pathStateOf(sdd)).toBe('active');
    expect(sdd).toMatchObject({ dmState: 'active', pathState: 'ready', onlineState: 'running' });
  });

  it('refuses to write a state other than running or offline (EINVAL)', async () => {
    const host = san(offlineSdd);
    await expect(host.writeSysfs(statePath(host), 'blocked\n')).rejects.toMatchObject({ code: 'EINVAL' });
    expect(host.model().luns[SDD_HCTL]?.state).toBe('offline');
  });
});
