import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readHostTopology, readText } from '../../agent/scan/sysfs-reader.ts';
import { parseMdadmDetail } from '../../probes/mdadm-detail.ts';
import { parseMdadmExamine } from '../../probes/mdadm-examine.ts';
import { parseMdstat } from '../../probes/mdstat.ts';
import { parseMetadb } from '../../probes/metadb.ts';
import { parseMetastat } from '../../probes/metastat.ts';
import { parseMultipath } from '../../probes/multipath.ts';
import { LAYOUT, VIOS1, VIOS2 } from '../agent/executor/harness.ts';
import {
  createFakeHost,
  type FakeHost,
  fakeMdClient,
  multipathModel,
  svmGuestModel,
} from '../helpers/fake-host.ts';

/** The fakes behave like the tools: output the probes' parsers read, the tools' own refusals, a log. */

const run = promisify(execFile);
const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});
const track = (host: FakeHost) => {
  hosts.push(host);
  return host;
};

/** Runs a generated fake as the executor would: by path, with the search path as PATH. */
const tool = async (host: FakeHost, name: string, args: string[]) => {
  try {
    const { stdout, stderr } = await run(join(host.binDir, name), args, {
      env: { PATH: host.searchPath.join(':'), LC_ALL: 'C' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
};

describe('the fake host', () => {
  it('renders a tree the probes read: mdstat, sysfs topology with the vSCSI failure domains', async () => {
    const host = track(fakeMdClient(LAYOUT, 'offline'));
    const mdstat = parseMdstat((await readText(join(host.root, 'proc', 'mdstat'))) ?? '');
    expect(mdstat.warnings).toEqual([]);
    expect(
      mdstat.arrays.map((array) => [
        array.name,
        array.state,
        array.members.map((m) => `${m.device}${m.flags.join()}`),
      ]),
    ).toEqual([
      ['md0', 'degraded', ['sdb1faulty', 'sda1']],
      ['md1', 'clean', ['sdb2', 'sda2']],
    ]);
    const topology = await readHostTopology({ root: host.root, hostId: LAYOUT.hostId });
    expect(topology.disks.get('sda')).toMatchObject({
      hctl: '0:0:1:0',
      failureDomain: VIOS1,
      deviceState: 'running',
    });
    expect(topology.disks.get('sdb')).toMatchObject({
      hctl: '1:0:2:0',
      failureDomain: VIOS2,
      deviceState: 'offline',
    });
  });

  it('prints mdadm --detail and --examine as the parsers read them, and records reads apart from actions', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    const detail = parseMdadmDetail((await tool(host, 'mdadm', ['--detail', '/dev/md0'])).stdout);
    expect(detail.warnings).toEqual([]);
    expect(detail.arrays[0]).toMatchObject({
      array: 'md0',
      uuid: LAYOUT.mirrors[0].uuid,
      events: 1842,
      bitmap: 'internal',
    });
    const examine = parseMdadmExamine((await tool(host, 'mdadm', ['--examine', '/dev/sdb1'])).stdout);
    expect(examine.devices[0]?.superblock).toMatchObject({
      uuid: LAYOUT.mirrors[0].uuid,
      events: 1800,
      role: 'active',
      slot: 1,
    });
    expect(host.reads()).toEqual([
      ['mdadm', '--detail', '/dev/md0'],
      ['mdadm', '--examine', '/dev/sdb1'],
    ]);
    expect(host.actions()).toEqual([]);
  });

  it('refuses as mdadm 3.2.3 does: --re-add without a bitmap, --add of an active member, failing the last in-sync member', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    host.update((model) => {
      // mdadm 3.1.5 to 3.2.3 refuse the --add; 4.x adds it in full (fake-mdadm.test.ts).
      model.mdadmVersion = '3.2.3';
      const md0 = model.arrays.md0;
      if (md0 === undefined) return;
      md0.bitmap = false;
      md0.members = md0.members.filter((member) => member.device !== 'sdb1');
    });
    const reAdd = await tool(host, 'mdadm', ['/dev/md0', '--re-add', '/dev/sdb1']);
    expect(reAdd).toMatchObject({
      code: 1,
      stderr: 'mdadm: --re-add for /dev/sdb1 to /dev/md0 is not possible\n',
    });
    const add = await tool(host, 'mdadm', ['/dev/md0', '--add', '/dev/sdb1']);
    expect(add.code).toBe(1);
    expect(add.stderr).toContain(
      'mdadm: /dev/sdb1 reports being an active member for /dev/md0, but a --re-add fails.',
    );
    const last = await tool(host, 'mdadm', ['/dev/md0', '--fail', '/dev/sda1']);
    expect(last).toMatchObject({
      code: 1,
      stderr: 'mdadm: set device faulty failed for /dev/sda1:  Device or resource busy\n',
    });
    expect(host.actions()).toEqual([
      ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--fail', '/dev/sda1'],
    ]);
  });

  it('fails, removes and re-adds a member, changing mdstat, sysfs holders and superblocks', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    expect((await tool(host, 'mdadm', ['/dev/md1', '--fail', '/dev/sdb2'])).stderr).toBe(
      'mdadm: set /dev/sdb2 faulty in /dev/md1\n',
    );
    expect((await tool(host, 'mdadm', ['/dev/md1', '--remove', '/dev/sdb2'])).stderr).toBe(
      'mdadm: hot removed /dev/sdb2 from /dev/md1\n',
    );
    expect(await readText(join(host.root, 'sys', 'block', 'sdb', 'sdb2', 'holders', 'md1'))).toBeNull();
    expect((await tool(host, 'mdadm', ['/dev/md1', '--re-add', '/dev/sdb2'])).stderr).toBe(
      'mdadm: re-added /dev/sdb2\n',
    );
    const md1 = parseMdstat((await readText(join(host.root, 'proc', 'mdstat'))) ?? '').arrays.find(
      (array) => array.name === 'md1',
    );
    expect(md1).toMatchObject({ state: 'recovering', degraded: true });
    await host.clock.sleep(10_000);
    expect(host.model().arrays.md1?.members.every((member) => member.state === 'in_sync')).toBe(true);
  });

  it('reinstates multipath paths and prints multipathd show topology as multipath -ll', async () => {
    const host = track(createFakeHost(multipathModel('sanhost01.example.net')));
    const reading = parseMultipath((await tool(host, 'multipathd', ['show', 'topology'])).stdout);
    expect(reading.warnings).toEqual([]);
    expect(reading.maps[0]?.paths.map((path) => [path.device, path.dmState, path.pathState])).toEqual([
      ['sdc', 'active', 'ready'],
      ['sdd', 'failed', 'faulty'],
      ['sde', 'active', 'ghost'],
      ['sdf', 'active', 'ghost'],
    ]);
    expect((await tool(host, 'multipathd', ['reinstate', 'path', 'sdd'])).stdout).toBe('ok\n');
  });

  it('prints metastat and metadb as the parsers read them, and re-enables a component with metareplace -e', async () => {
    const host = track(createFakeHost(svmGuestModel('ldg1.example.net')));
    const metastat = parseMetastat((await tool(host, 'metastat', [])).stdout);
    expect(metastat.warnings).toEqual([]);
    expect(
      metastat.mirrors[0]?.submirrors.map((submirror) => [submirror.name, submirror.componentState]),
    ).toEqual([
      ['d11', 'Okay'],
      ['d12', 'Maintenance'],
    ]);
    expect(parseMetadb((await tool(host, 'metadb', [])).stdout).replicas).toHaveLength(3);
    expect((await tool(host, 'metareplace', ['-e', 'd10', 'c0d1s0'])).stdout).toBe(
      'd10: device c0d1s0 is enabled\n',
    );
    expect(host.actions()).toEqual([['metareplace', '-e', 'd10', 'c0d1s0']]);
  });
});
