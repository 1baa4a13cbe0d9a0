import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostSnapshot } from '../../../events/index.ts';
import { materializeTree, removeScratchTrees } from '../../helpers/agent-probes.ts';

afterAll(removeScratchTrees);

const AGENT_BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'faultline-agent');

type Result = { code: number; stdout: string; stderr: string };

const agent = (args: string[]): Promise<Result> =>
  new Promise((resolve) => {
    execFile(process.execPath, [AGENT_BIN, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });

describe('faultline-agent scan', () => {
  it('prints a HostSnapshot of a fixture tree with the failure domains its fake sysfs implies', async () => {
    const root = materializeTree('md-client-degraded');
    const result = await agent(['scan', '--root', root, '--json', '--host-id', 'lnxclient07']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const snapshot = HostSnapshot.parse(JSON.parse(result.stdout));
    expect(snapshot.hostId).toBe('lnxclient07');
    expect(snapshot.arrays.find((array) => array.array === 'md0')?.members).toEqual([
      {
        device: 'sda1',
        disk: 'sda',
        state: 'in-sync',
        failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios1',
      },
      {
        device: 'sdb1',
        disk: 'sdb',
        state: 'faulty',
        failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
      },
    ]);
    expect(
      snapshot.disks.map((disk) => [disk.disk, disk.scsiHost, disk.failureDomain, disk.deviceState]),
    ).toEqual([
      ['sda', 'host0', 'vscsi:Server-9080-M9S-SN78AB12C/vios1', 'running'],
      ['sdb', 'host1', 'vscsi:Server-9080-M9S-SN78AB12C/vios2', 'offline'],
    ]);
  });

  it('prints tables for people without --json, and takes --root=DIR', async () => {
    const root = materializeTree('multipath-host');
    const result = await agent(['scan', `--root=${root}`, '--host-id=lnxclient07']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('host lnxclient07  platform linux  role client');
    expect(result.stdout).toMatch(
      /mpatha +36005076801810523f8000000000000a1 +sdc +3:0:0:0 +active +fc:500507680b21ac1c/,
    );
    expect(result.stdout).toMatch(/sdd +4:0:0:0 +host4 +ibmvfc +50\.0 GiB +offline +fc:500507680b22ac1c/);
  });

  it('is a usage error (2) for an unknown flag or a bad host id, a failure (1) for a root it cannot read', async () => {
    expect((await agent(['scan', '--verbose'])).code).toBe(2);
    expect((await agent(['scan', '--host-id', 'no spaces please'])).code).toBe(2);
    const missing = await agent(['scan', '--root', '/nonexistent/faultline', '--host-id', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot scan /nonexistent/faultline');
  });
});
