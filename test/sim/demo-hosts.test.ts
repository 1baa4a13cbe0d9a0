import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMdadmDetail } from '../../probes/mdadm-detail.ts';
import { parseMetadb } from '../../probes/metadb.ts';
import { SimClient, type SimClientOptions } from '../../sim/client.ts';
import { runTool } from '../../sim/fake-host/tools.mjs';
import { DEMO_SYSTEM } from '../../sim/managed-system.ts';
import type { SimulatedAgentHost } from '../../sim/simulated-agent-host.ts';
import { SimStorageHost } from '../../sim/storage-host.ts';
import { SimVios } from '../../sim/vios.ts';
import { AGENT_TOKEN } from '../helpers/agent-config.ts';

/**
 * The demo's hosts laid out as some in the field are (#14), before any agent runs on them: the
 * fault each takes, and the commands its plan must run, run here by hand through the same fakes,
 * heal it (and nothing less does). The demo's own test (test/cli/demo/) runs the real agents.
 */

/** No agent is started here: nothing listens at this address. */
const NOWHERE = { url: 'http://127.0.0.1:9', agentToken: AGENT_TOKEN, planPublicKeyPem: '' };

const hosts: (SimulatedAgentHost | SimVios)[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

const client = (options: Partial<SimClientOptions> = {}): SimClient => {
  const created = new SimClient({ hostId: 'lnxtest01', index: 900, ...NOWHERE, ...options });
  hosts.push(created);
  return created;
};

/** Runs a recorded command on the host again: a program of the fakes, or a write to the fake kernel's sysfs. */
const runCommand = async (host: SimulatedAgentHost, argv: readonly string[]) => {
  const [program = '', ...args] = argv;
  if (program === 'write') {
    const [path = '', text = ''] = args;
    await host.host.writeSysfs(join(host.host.root, path), text);
    return { code: 0, stdout: '', stderr: '' };
  }
  return runTool(program, args, host.host.root);
};

/** Runs each command, every one of which must succeed. */
const runAll = async (host: SimulatedAgentHost, commands: readonly (readonly string[])[]) => {
  for (const argv of commands) {
    const result = await runCommand(host, argv);
    expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(0);
  }
};

/** Whether an md array or an SVM mirror of the host resyncs, or waits to. */
const syncing = (host: SimulatedAgentHost): boolean => {
  const model = host.host.model();
  return (
    Object.values(model.arrays).some((array) => array.recovery !== null) ||
    (model.svm?.mirrors ?? []).some((mirror) => mirror.resync !== null)
  );
};

/** Lets simulated time pass until nothing resyncs (at most ten minutes of it). */
const resync = async (host: SimulatedAgentHost) => {
  for (let second = 0; second < 600 && syncing(host); second += 1) await host.host.clock.sleep(1_000);
};

describe('the md client without a write-intent bitmap, on mdadm 3.2.3', () => {
  it('takes its stale members back only once their superblocks are zeroed, then rebuilds them in full', async () => {
    const host = client({ bitmap: false, mdadmVersion: '3.2.3' });
    const detail = parseMdadmDetail(runTool('mdadm', ['--detail', '/dev/md0'], host.host.root).stdout);
    expect(detail.arrays[0]?.bitmap).toBe('none');
    await host.remoteDown();
    await host.remoteBack();
    const planned = host.expectedActions();
    expect(planned).toEqual([
      ['mdadm', '/dev/md1', '--fail', '/dev/sdb2'],
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ['mdadm', '/dev/md1', '--remove', '/dev/sdb2'],
      ['write', '/sys/class/scsi_device/1:0:1:0/device/delete', '1'],
      ['write', '/sys/class/scsi_host/host1/scan', '0 1 0'],
      ['mdadm', '--zero-superblock', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
      ['mdadm', '--zero-superblock', '/dev/sdb2'],
      ['mdadm', '/dev/md1', '--add', '/dev/sdb2'],
    ]);
    const zeroAt = planned.findIndex((argv) => argv[1] === '--zero-superblock');
    await runAll(host, planned.slice(0, zeroAt));
    // Neither a re-add nor an add of the stale member: mdadm 3.2.3 refuses both.
    const reAdd = runTool('mdadm', ['/dev/md0', '--re-add', '/dev/sdb1'], host.host.root);
    expect([reAdd.code, reAdd.stderr]).toEqual([
      1,
      'mdadm: --re-add for /dev/sdb1 to /dev/md0 is not possible\n',
    ]);
    const add = runTool('mdadm', ['/dev/md0', '--add', '/dev/sdb1'], host.host.root);
    expect(add.code).toBe(1);
    expect(add.stderr).toContain(
      '/dev/sdb1 reports being an active member for /dev/md0, but a --re-add fails.',
    );
    await runAll(host, planned.slice(zeroAt));
    const rebuilding = host.host.model().arrays;
    expect(rebuilding.md0?.recovery).toMatchObject({ device: 'sdb1' });
    expect(rebuilding.md0?.recovery?.rate).toBeCloseTo(10, 1);
    // md1 shares md0's disks: its rebuild waits behind md0's (resync=DELAYED).
    expect(rebuilding.md1?.recovery).toMatchObject({ device: 'sdb2', delayed: true });
    // At the same speed, the 8 GiB swap rebuilds five times faster than the 40 GiB root.
    expect(rebuilding.md1?.recovery?.rate).toBeCloseTo(50, 0);
    expect(host.isHealthy()).toBe(false);
    await resync(host);
    expect(host.isHealthy()).toBe(true);
  });
});

describe('the md client with a root and a data disk from each VIOS', () => {
  it("loses both of vios2's disks at once and heals with the field order, disk after disk", async () => {
    const host = client({ dataDisk: true });
    expect(host.remoteDisks()).toEqual(['sdb', 'sdc']);
    await host.remoteDown();
    const down = host.host.model();
    expect([down.luns['1:0:1:0']?.state, down.luns['1:0:2:0']?.state]).toEqual(['offline', 'offline']);
    expect([down.luns['0:0:1:0']?.state, down.luns['0:0:2:0']?.state]).toEqual(['running', 'running']);
    const states = (name: string) =>
      down.arrays[name]?.members.map((member) => `${member.device} ${member.state}`);
    expect([states('md0'), states('md1'), states('md2')]).toEqual([
      ['sda1 in_sync', 'sdb1 faulty'],
      ['sda2 in_sync', 'sdb2 in_sync'],
      ['sdd1 in_sync', 'sdc1 faulty'],
    ]);
    await host.remoteBack();
    const planned = host.expectedActions();
    expect(planned.slice(7)).toEqual([
      ['mdadm', '/dev/md2', '--remove', '/dev/sdc1'],
      ['write', '/sys/class/scsi_device/1:0:2:0/device/delete', '1'],
      ['write', '/sys/class/scsi_host/host1/scan', '0 2 0'],
      ['mdadm', '/dev/md2', '--re-add', '/dev/sdc1'],
    ]);
    await runAll(host, planned);
    await resync(host);
    expect(host.isHealthy()).toBe(true);
    expect(host.actions()).toEqual(planned);
  });

  it('is served two target devices by each VIOS', async () => {
    const vios = new SimVios({
      hostId: 'vios2',
      system: DEMO_SYSTEM,
      lparId: 2,
      vscsiClients: [
        { hostId: 'lnx001', partitionId: 3 },
        { hostId: 'lnx2dsk01', partitionId: 4, disks: 2 },
      ],
      url: NOWHERE.url,
      agentToken: AGENT_TOKEN,
    });
    hosts.push(vios);
    const lsmap = await vios.tools.run(['ioscli', 'lsmap', '-all']);
    expect(lsmap.exitCode).toBe(0);
    const targets = [...lsmap.stdout.matchAll(/^VTD\s+(\S+)\n.*\nLUN\s+(\S+)\nBacking device\s+(\S+)/gm)];
    expect(targets.map(([, vtd, lun, backing]) => [vtd, lun, backing])).toEqual([
      ['vtscsi0', '0x8100000000000000', 'lnx001_rootvg'],
      ['vtscsi1', '0x8100000000000000', 'lnx2dsk01_rootv'],
      ['vtscsi2', '0x8200000000000000', 'lnx2dsk01_datav'],
    ]);
  });
});

describe('the LDoms guest with three state database replicas per disk', () => {
  const guest = (): SimStorageHost => {
    const created = new SimStorageHost({
      kind: 'ldoms-guest',
      hostId: 'ldgtest01',
      index: 900,
      controlDomain: 'ctl1',
      ...NOWHERE,
    });
    hosts.push(created);
    return created;
  };
  const metadb = (host: SimStorageHost) =>
    parseMetadb(runTool('metadb', ['-i'], host.host.root).stdout).replicas.map(
      (replica) => `${replica.device} ${replica.flags}`,
    );

  it('keeps the replicas of the rebooted domain in error after its mirror is repaired, until they are re-created', async () => {
    const host = guest();
    expect(metadb(host)).toHaveLength(6);
    await host.faultDown();
    await host.faultBack();
    const inError = metadb(host).filter((line) => line.startsWith('/dev/dsk/c0d1s7'));
    expect(inError).toHaveLength(3);
    expect(inError.every((line) => line.endsWith(' Wpl'))).toBe(true);
    expect(host.replicasInError()).toEqual(['c0d1s7']);

    await runAll(host, host.expectedActions());
    await resync(host);
    // The mirror is Okay; the replicas are still in error: not healthy yet.
    expect(host.host.model().svm?.mirrors[0]?.submirrors.map((submirror) => submirror.state)).toEqual([
      'Okay',
      'Okay',
    ]);
    expect(host.replicasInError()).toEqual(['c0d1s7']);
    expect(host.isHealthy()).toBe(false);
    // What its commands must be once a plan carries svm.metadb-restore.
    expect(host.restorePlanned).toBe(false);
    host.plansFetched.push({
      id: 'pln_test',
      wave: 0,
      at: Date.now(),
      actions: ['disk.probe', 'svm.metareplace', 'svm.wait-sync', 'svm.metadb-restore'],
    });
    const restore = host.expectedActions().slice(1);
    expect(restore).toEqual([
      ['metadb', '-d', 'c0d1s7'],
      ['metadb', '-a', '-c', '3', 'c0d1s7'],
    ]);
    await runAll(host, restore);
    expect(host.replicasInError()).toEqual([]);
    expect(host.isHealthy()).toBe(true);
    expect(host.actions()).toEqual(host.expectedActions());
  });
});
