import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { scanHostInDetail } from '../../../agent/scan/scan.ts';
import {
  capturedOutputFiles,
  createCapturedToolRunner,
  type ToolRequest,
  type ToolRunner,
} from '../../../agent/scan/tool-runner.ts';
import { type ArrayReport, HostSnapshot, type Member } from '../../../events/index.ts';
import {
  AGENT_FIXTURES,
  buildTree,
  fixtureText,
  materializeTree,
  removeScratchTrees,
  removeTreePath,
  writeTreeFile,
} from '../../helpers/agent-probes.ts';

afterAll(removeScratchTrees);

const run = promisify(execFile);
const AGENT_BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'faultline-agent');
const NOW = new Date('2026-11-22T03:10:00.000Z');
const HOST = 'aixdb01';
const LOCAL = `local:${HOST}`;
const VIOS1 = 'vscsi:Server-9080-M9S-SN78AB12C/vios1';
const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
const LSPATH_CAPTURE = 'sos_commands/aix/lspath_-F_name_path_id_parent_connection_status';

/** The mirrored logical volumes of the fixture's rootvg, as lsvg -l lists them. */
const MIRRORED = [
  'hd1',
  'hd2',
  'hd3',
  'hd4',
  'hd5',
  'hd6',
  'hd8',
  'hd9var',
  'hd10opt',
  'hd11admin',
  'livedump',
];

const recordingRunner = (root: string): { runTool: ToolRunner; requests: string[] } => {
  const requests: string[] = [];
  const captured = createCapturedToolRunner(root);
  return {
    requests,
    runTool: (request: ToolRequest) => {
      requests.push([request.tool, ...request.args].join(' '));
      return captured(request);
    },
  };
};

const lvm = (
  array: string,
  hdisk0: string,
  hdisk1: string,
  state: ArrayReport['state'] = 'degraded',
  hdisk1State: Member['state'] = 'faulty',
): ArrayReport => ({
  array,
  kind: 'lvm',
  level: 'raid1',
  state,
  members: [
    { device: 'hdisk0', disk: 'hdisk0', state: 'in-sync', failureDomain: hdisk0 },
    { device: 'hdisk1', disk: 'hdisk1', state: hdisk1State, failureDomain: hdisk1 },
  ],
});

describe('scanHost on AIX', () => {
  it('scans a client whose vios2 disk went missing: every mirrored volume degraded with its hdisk1 copy faulty, one failed MPIO path', async () => {
    const root = materializeTree('aix-client-stale');
    const { runTool, requests } = recordingRunner(root);
    const scan = await scanHostInDetail({ root, hostId: HOST, now: NOW, runTool });
    const snapshot = HostSnapshot.parse(scan.snapshot);
    expect(snapshot).toMatchObject({
      hostId: HOST,
      platform: 'aix',
      role: 'client',
      bootId: 'unknown',
      domains: [],
    });
    expect(snapshot.arrays.map((array) => array.array)).toEqual(MIRRORED);
    expect(snapshot.arrays.find((array) => array.array === 'hd9var')).toEqual(lvm('hd9var', LOCAL, LOCAL));
    // A closed boot volume took no writes, yet its copy on the missing disk is gone all the same.
    expect(snapshot.arrays.find((array) => array.array === 'hd5')).toEqual(lvm('hd5', LOCAL, LOCAL));
    expect(snapshot.maps).toEqual([
      {
        map: 'hdisk2',
        wwid: '00f6db0a8d2e4c19',
        paths: [
          { path: 'hdisk2', hctl: '0:1:0:0', failureDomain: 'fc:500507680b21ac1c', state: 'active' },
          { path: 'hdisk2', hctl: '1:1:1:0', failureDomain: 'fc:500507680b22ac1c', state: 'failed' },
        ],
      },
    ]);
    expect(snapshot.disks).toEqual([
      { disk: 'hdisk0', driver: 'vscsi', failureDomain: LOCAL },
      { disk: 'hdisk1', driver: 'vscsi', failureDomain: LOCAL },
      { disk: 'hdisk2', driver: 'fscsi', failureDomain: LOCAL },
      { disk: 'hdisk3', driver: 'vscsi', failureDomain: LOCAL },
    ]);
    expect(scan.warnings.map((warning) => `${warning.source}: ${warning.reason}`)).toEqual([
      "sysfs: no boot id or boot time; reported as 'unknown'",
      `lspath: vscsi0: no topology override names the server behind it; its paths are reported on ${LOCAL}`,
      `lspath: vscsi1: no topology override names the server behind it; its paths are reported on ${LOCAL}`,
      "lvm: rootvg: lspv -l hdisk1 not read; hdisk1 is taken to hold the copies its group's other disks leave short",
    ]);
    expect(requests.sort()).toEqual(
      [
        'lsvg -o',
        'lspv',
        'lspath -F name path_id parent connection status',
        'lsvg -l rootvg',
        'lsvg -p rootvg',
        'lsvg -l datavg',
        'lsvg -p datavg',
        'lspv -l hdisk0',
        'lspv -l hdisk1',
      ].sort(),
    );
  });

  it('places disks and paths on the VIOS an adapter override names, and a disk override pins a disk', async () => {
    const root = materializeTree('aix-client-stale');
    const scan = await scanHostInDetail({
      root,
      hostId: HOST,
      now: NOW,
      topology: {
        adapters: { vscsi0: VIOS1, vscsi1: VIOS2, fscsi0: VIOS1, fscsi1: VIOS2 },
        disks: { hdisk3: 'fc:500507680b21ac1c' },
      },
    });
    expect(scan.snapshot.arrays.find((array) => array.array === 'hd4')).toEqual(lvm('hd4', VIOS1, VIOS2));
    expect(scan.snapshot.maps[0]?.paths.map((path) => [path.hctl, path.failureDomain, path.state])).toEqual([
      ['0:1:0:0', VIOS1, 'active'],
      ['1:1:1:0', VIOS2, 'failed'],
    ]);
    expect(scan.snapshot.disks.map((disk) => [disk.disk, disk.failureDomain])).toEqual([
      ['hdisk0', VIOS1],
      ['hdisk1', VIOS2],
      // Its two paths go through two VIOS: no one server takes it away.
      ['hdisk2', LOCAL],
      ['hdisk3', 'fc:500507680b21ac1c'],
    ]);
    expect(scan.warnings.filter((warning) => warning.source === 'lspath')).toEqual([]);
  });

  it('reports a healthy client clean, and a volume stale once its disk is back with every copy in sync', async () => {
    const root = materializeTree('aix-client-stale');
    writeTreeFile(
      root,
      'sos_commands/aix/lsvg_-p_rootvg',
      fixtureText('lsvg/lsvg-p-rootvg-missing.txt').replace('missing', 'active '),
    );
    writeTreeFile(
      root,
      'sos_commands/aix/lspv_-l_hdisk1',
      fixtureText('lspv/lspv-l-hdisk0.txt').replace('hdisk0:', 'hdisk1:'),
    );
    const back = await scanHostInDetail({ root, hostId: HOST, now: NOW });
    expect(back.snapshot.arrays.find((array) => array.array === 'hd9var')).toEqual(
      lvm('hd9var', LOCAL, LOCAL, 'degraded', 'in-sync'),
    );
    expect(back.snapshot.arrays.find((array) => array.array === 'hd2')).toEqual(
      lvm('hd2', LOCAL, LOCAL, 'clean', 'in-sync'),
    );
    expect(back.warnings.filter((warning) => warning.source === 'lvm')).toEqual([]);

    writeTreeFile(
      root,
      'sos_commands/aix/lsvg_-l_rootvg',
      fixtureText('lsvg/lsvg-l-rootvg-stale.txt').replaceAll('open/stale', 'open/syncd'),
    );
    const synced = await scanHostInDetail({ root, hostId: HOST, now: NOW });
    expect(synced.snapshot.arrays.every((array) => array.state === 'clean')).toBe(true);
    expect(synced.snapshot.arrays).toHaveLength(MIRRORED.length);
  });

  it('places each copy on the disks lspv -l lists it on, in a group of two mirrored pairs', async () => {
    const lv = (name: string, lps: number, pps: number, pvs: number, state: string, mount: string) =>
      `${name.padEnd(20)}${'jfs2'.padEnd(11)}${String(lps).padEnd(8)}${String(pps).padEnd(8)}${String(pvs).padEnd(5)}${state.padEnd(14)}${mount}`;
    const pv = (disk: string, state: string) =>
      `${disk.padEnd(18)}${state.padEnd(18)}${'799'.padEnd(12)}${'400'.padEnd(12)}160..80..0..0..160`;
    const holds = (disk: string, volume: string) =>
      `${disk}:\nLV NAME               LPs     PPs     DISTRIBUTION          MOUNT POINT\n${volume.padEnd(22)}100     100     00..100..00..00..00   /${volume}\n`;
    const root = buildTree({
      'sos_commands/aix/lsvg_-o': 'appvg\n',
      'sos_commands/aix/lsvg_-l_appvg': [
        'appvg:',
        'LV NAME             TYPE       LPs     PPs     PVs  LV STATE      MOUNT POINT',
        lv('applv', 100, 200, 2, 'open/stale', '/applv'),
        lv('weblv', 100, 200, 2, 'open/syncd', '/weblv'),
      ].join('\n'),
      'sos_commands/aix/lsvg_-p_appvg': [
        'appvg:',
        'PV_NAME           PV STATE          TOTAL PPs   FREE PPs    FREE DISTRIBUTION',
        pv('hdisk4', 'active'),
        pv('hdisk5', 'missing'),
        pv('hdisk6', 'active'),
        pv('hdisk7', 'active'),
      ].join('\n'),
      'sos_commands/aix/lspv_-l_hdisk4': holds('hdisk4', 'applv'),
      'sos_commands/aix/lspv_-l_hdisk5': holds('hdisk5', 'applv'),
      'sos_commands/aix/lspv_-l_hdisk6': holds('hdisk6', 'weblv'),
      'sos_commands/aix/lspv_-l_hdisk7': holds('hdisk7', 'weblv'),
    });
    const scan = await scanHostInDetail({ root, hostId: HOST, now: NOW });
    expect(
      scan.snapshot.arrays.map((array) => [
        array.array,
        array.state,
        array.members.map((m) => `${m.disk}=${m.state}`),
      ]),
    ).toEqual([
      ['applv', 'degraded', ['hdisk4=in-sync', 'hdisk5=faulty']],
      ['weblv', 'clean', ['hdisk6=in-sync', 'hdisk7=in-sync']],
    ]);
    expect(scan.snapshot.maps).toEqual([]);
    expect(scan.snapshot.disks.map((disk) => [disk.disk, disk.driver])).toEqual([
      ['hdisk4', 'unknown'],
      ['hdisk5', 'unknown'],
      ['hdisk6', 'unknown'],
      ['hdisk7', 'unknown'],
    ]);
  });

  it('falls back to plain lspath, numbering the paths of each disk in the order listed', async () => {
    const root = materializeTree('aix-client-stale');
    removeTreePath(root, LSPATH_CAPTURE);
    writeTreeFile(root, 'sos_commands/aix/lspath', fixtureText('lspath/default.txt'));
    const scan = await scanHostInDetail({ root, hostId: HOST, now: NOW });
    expect(scan.snapshot.maps[0]?.paths.map((path) => [path.hctl, path.failureDomain, path.state])).toEqual([
      ['0:1:0:0', LOCAL, 'active'],
      ['1:1:1:0', LOCAL, 'failed'],
    ]);
  });

  it('reports no storage when the tools say nothing, and never a Linux array or map', async () => {
    const root = buildTree({ 'sos_commands/aix/lsvg_-o': '0516-304 lsvg: Unable to find device id.\n' });
    const scan = await scanHostInDetail({ root, hostId: HOST, now: NOW });
    expect(scan.snapshot).toMatchObject({ platform: 'aix', arrays: [], maps: [], disks: [] });
    expect(scan.warnings.map((warning) => warning.reason)).toContain('not a volume group name');
  });
});

describe('capturedOutputFiles for the AIX tools', () => {
  it('reads them from sos_commands/aix, lspath -F falling back to plain lspath', () => {
    expect(capturedOutputFiles({ tool: 'lsvg', args: ['-l', 'rootvg'] })).toEqual([
      join('sos_commands', 'aix', 'lsvg_-l_rootvg'),
    ]);
    expect(capturedOutputFiles({ tool: 'lspv', args: ['-l', 'hdisk1'] })).toEqual([
      join('sos_commands', 'aix', 'lspv_-l_hdisk1'),
    ]);
    expect(
      capturedOutputFiles({ tool: 'lspath', args: ['-F', 'name path_id parent connection status'] }),
    ).toEqual([
      join('sos_commands', 'aix', 'lspath_-F_name_path_id_parent_connection_status'),
      join('sos_commands', 'aix', 'lspath'),
    ]);
  });
});

describe('faultline-agent scan --root <aix fixture> --json', () => {
  it('prints the snapshot the scan makes: lvm arrays, the MPIO map, the disks', async () => {
    const root = join(AGENT_FIXTURES, 'trees', 'aix-client-stale');
    const { stdout, stderr } = await run(process.execPath, [
      AGENT_BIN,
      'scan',
      '--root',
      root,
      '--json',
      '--host-id',
      HOST,
    ]);
    const printed = HostSnapshot.parse(JSON.parse(stdout));
    const expected = await scanHostInDetail({ root, hostId: HOST, now: new Date(printed.takenAt) });
    expect(printed).toEqual(expected.snapshot);
    expect(printed.platform).toBe('aix');
    expect(printed.arrays.filter((array) => array.kind === 'lvm' && array.state === 'degraded')).toHaveLength(
      MIRRORED.length,
    );
    expect(printed.maps[0]?.paths.map((path) => path.state)).toEqual(['active', 'failed']);
    expect(stderr).toContain(
      'faultline-agent scan: lspath: vscsi1: no topology override names the server behind it',
    );
  });
});
