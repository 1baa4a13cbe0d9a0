import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ToolMissingError } from '../../../agent/executor/errors.ts';
import {
  parseMountinfo,
  parseProcMounts,
  parseSwaps,
  readFirstBlock,
  sourceDeviceName,
} from '../../../agent/executor/host-files.ts';
import { metadbProblem } from '../../../agent/executor/metadb.ts';
import { PlanLedger } from '../../../agent/executor/plan-ledger.ts';
import { createProgramRunner, executorSearchPath } from '../../../agent/executor/programs.ts';
import { signatureIn } from '../../../agent/executor/signatures.ts';
import { scsiDeletePath, writeSysfsFile } from '../../../agent/executor/sysfs.ts';
import { parseMetadb } from '../../../probes/metadb.ts';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-executor-units-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;
const folder = (): string => {
  count += 1;
  const path = join(scratch, `case-${count}`);
  mkdirSync(path, { recursive: true });
  return path;
};

describe('mount tables', () => {
  it('reads /proc/self/mountinfo with its escapes and optional fields (proc(5))', () => {
    const text = [
      '22 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/rhel-root rw,attr2',
      '36 22 8:17 / /srv/my\\040data rw,relatime shared:23 master:4 - xfs /dev/sdb1 rw',
      'garbage without a separator',
    ].join('\n');
    expect(parseMountinfo(text)).toEqual([
      { source: '/dev/mapper/rhel-root', majorMinor: '253:0', mountPoint: '/' },
      { source: '/dev/sdb1', majorMinor: '8:17', mountPoint: '/srv/my data' },
    ]);
  });

  it('reads /proc/mounts and /proc/swaps', () => {
    expect(parseProcMounts('/dev/sdb1 /data xfs rw,relatime 0 0\nproc /proc proc rw 0 0\n')).toEqual([
      { source: '/dev/sdb1', majorMinor: null, mountPoint: '/data' },
      { source: 'proc', majorMinor: null, mountPoint: '/proc' },
    ]);
    const swaps =
      'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/md1                                partition\t2095100\t\t0\t\t-2\n';
    expect(parseSwaps(swaps)).toEqual(['/dev/md1']);
  });

  it('names the device a udev link points at', async () => {
    const root = folder();
    mkdirSync(join(root, 'dev', 'disk', 'by-uuid'), { recursive: true });
    writeFileSync(join(root, 'dev', 'sdb1'), '');
    symlinkSync('../../sdb1', join(root, 'dev', 'disk', 'by-uuid', '0a1b2c3d'));
    expect(await sourceDeviceName(root, '/dev/disk/by-uuid/0a1b2c3d')).toBe('sdb1');
    expect(await sourceDeviceName(root, '/dev/sdb3')).toBe('sdb3');
    expect(await sourceDeviceName(root, 'tmpfs')).toBeNull();
  });
});

describe('readFirstBlock', () => {
  it('falls back to a buffered read only where O_DIRECT is refused with EINVAL', async () => {
    const root = folder();
    writeFileSync(join(root, 'disk'), Buffer.alloc(8192, 1));
    const read = await readFirstBlock(join(root, 'disk'));
    expect(read.readable).toBe(true);
    expect(['direct', 'buffered']).toContain(read.how);
  });

  it('calls a device that errors, or is missing or empty, not readable', async () => {
    const root = folder();
    mkdirSync(join(root, 'offline'));
    writeFileSync(join(root, 'empty'), '');
    expect(await readFirstBlock(join(root, 'offline'))).toMatchObject({ readable: false });
    expect(await readFirstBlock(join(root, 'gone'))).toMatchObject({ readable: false, error: 'ENOENT' });
    expect(await readFirstBlock(join(root, 'empty'))).toMatchObject({ readable: false, error: 'empty' });
  });
});

describe('metadb', () => {
  const healthy = [
    '        flags           first blk       block count',
    '     a m  p  luo        16              8192            /dev/dsk/c0t0d0s7',
    '     a    p  luo        8208            8192            /dev/dsk/c0t0d0s7',
    '     a    p  luo        16              8192            /dev/dsk/c0t1d0s7',
    ' r - replica does not have device relocation information',
    ' W - replica has device write errors',
  ].join('\n');

  it('reads the replicas of metadb -i, legend aside', () => {
    const reading = parseMetadb(healthy);
    expect(reading.replicas).toEqual([
      { flags: 'ampluo', firstBlock: 16, blockCount: 8192, device: '/dev/dsk/c0t0d0s7' },
      { flags: 'apluo', firstBlock: 8208, blockCount: 8192, device: '/dev/dsk/c0t0d0s7' },
      { flags: 'apluo', firstBlock: 16, blockCount: 8192, device: '/dev/dsk/c0t1d0s7' },
    ]);
    expect(metadbProblem(reading)).toBeNull();
  });

  it('says why replicas are unhealthy: an error flag, too few active, none at all', () => {
    expect(
      metadbProblem(parseMetadb(healthy.replace('a    p  luo        16', 'W    p  l          16'))),
    ).toContain('c0t1d0s7');
    const inactive = healthy.replaceAll('     a    p  luo', '          p  luo');
    expect(metadbProblem(parseMetadb(inactive))).toBe('only 1 of 3 replicas are active');
    expect(metadbProblem(parseMetadb('metadb: lnx: there are no existing databases\n'))).toContain(
      'no existing databases',
    );
  });
});

describe('programs', () => {
  const program = (body: string): string => {
    const bin = folder();
    const path = join(bin, 'mdadm');
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return bin;
  };

  it('runs an allow-listed program from the search path with an argument vector and the C locale', async () => {
    const bin = program('printf "%s|" "$@"; printf "%s %s" "$LC_ALL" "$LANG" >&2');
    const run = createProgramRunner([bin, '/bin', '/usr/bin']);
    const result = await run('mdadm', ['/dev/md0', '--fail', '/dev/sdb1; rm -rf /']);
    expect(result).toEqual({
      exitCode: 0,
      stdout: '/dev/md0|--fail|/dev/sdb1; rm -rf /|',
      stderr: 'C C',
      timedOut: false,
    });
  });

  it('reports the exit code, kills a program past its timeout, and throws for a missing one', async () => {
    const failing = createProgramRunner([program('echo "mdadm: no" >&2; exit 3'), '/bin', '/usr/bin']);
    expect(await failing('mdadm', [])).toMatchObject({ exitCode: 3, stderr: 'mdadm: no\n', timedOut: false });
    const hanging = createProgramRunner([program('exec sleep 30'), '/bin', '/usr/bin']);
    expect(await hanging('mdadm', [], { timeoutMs: 100 })).toMatchObject({ exitCode: null, timedOut: true });
    const empty = createProgramRunner([folder()]);
    await expect(empty('metastat', [])).rejects.toBeInstanceOf(ToolMissingError);
  });

  it('searches the agent PATH first, then the sbin folders', () => {
    expect(executorSearchPath('/opt/fakes:relative:/usr/bin')).toEqual([
      '/opt/fakes',
      '/usr/bin',
      '/sbin',
      '/usr/sbin',
      '/bin',
      '/usr/local/sbin',
      '/opt/SUNWldm/bin',
    ]);
  });
});

describe('writeSysfsFile', () => {
  it('writes an existing attribute and never creates a missing one', async () => {
    const root = folder();
    const path = scsiDeletePath(root, '1:0:2:0');
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '');
    await writeSysfsFile(path, '1');
    expect(readFileSync(path, 'utf8')).toBe('1');
    await expect(writeSysfsFile(scsiDeletePath(root, '9:0:0:0'), '1')).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});

describe('PlanLedger', () => {
  it('records a plan start once, durably, and keeps the first receipt', () => {
    const base = folder();
    const ledger = PlanLedger.open({ stateDir: join(base, 'state'), fallbackStateDir: join(base, 'run') });
    const first = ledger.receipt('pln-1', 'boot-a', new Date('2026-11-22T03:00:00Z'));
    expect(ledger.receipt('pln-1', 'boot-b', new Date('2026-11-22T04:00:00Z'))).toEqual(first);
    expect(ledger.hasRun('pln-1', 'execute')).toBe(false);
    expect(ledger.markStarted('pln-1', 'execute', 'boot-a', new Date())).toBe(true);
    expect(ledger.markStarted('pln-1', 'execute', 'boot-a', new Date())).toBe(false);
    expect(ledger.hasRun('pln-1', 'execute')).toBe(true);
    expect(ledger.hasRun('pln-1', 'dry-run')).toBe(false);
    const reopened = PlanLedger.open({ stateDir: join(base, 'state'), fallbackStateDir: join(base, 'run') });
    expect(reopened.hasRun('pln-1', 'execute')).toBe(true);
  });

  it('falls back to the second directory, and fails when neither is writable', () => {
    const base = folder();
    writeFileSync(join(base, 'file'), '');
    const ledger = PlanLedger.open({
      stateDir: join(base, 'file', 'state'),
      fallbackStateDir: join(base, 'run'),
    });
    expect(ledger.path).toBe(join(base, 'run', 'plans'));
    expect(() =>
      PlanLedger.open({ stateDir: join(base, 'file', 'a'), fallbackStateDir: join(base, 'file', 'b') }),
    ).toThrow('no writable directory for the plan ledger');
  });

  it('holds the plan lock against a live process, and takes over one whose process is gone or from another boot', () => {
    const base = folder();
    const ledger = PlanLedger.open({ stateDir: base, fallbackStateDir: join(base, 'run') });
    const alive = new Set([4242]);
    const lockPath = join(base, 'plans', 'plan.lock');
    const holder = (pid: number, bootId: string) =>
      writeFileSync(
        lockPath,
        JSON.stringify({ pid, planId: 'pln-0', bootId, acquiredAt: '2026-11-22T03:00:00Z' }),
      );
    holder(4242, 'boot-a');
    expect(ledger.lock('pln-1', 'boot-a', new Date(), (pid) => alive.has(pid))).toMatchObject({
      acquired: false,
      holder: { pid: 4242, planId: 'pln-0' },
    });
    holder(4242, 'boot-old');
    const taken = ledger.lock('pln-1', 'boot-a', new Date(), (pid) => alive.has(pid));
    expect(taken.acquired).toBe(true);
    if (taken.acquired) taken.release();
    holder(9999, 'boot-a');
    expect(ledger.lock('pln-2', 'boot-a', new Date(), (pid) => alive.has(pid)).acquired).toBe(true);
  });

  it('forgets records past the retention, by the times they hold', () => {
    const base = folder();
    const ledger = PlanLedger.open({ stateDir: base, fallbackStateDir: join(base, 'run') });
    ledger.receipt('pln-old', 'boot-a', new Date('2026-09-01T00:00:00Z'));
    ledger.markStarted('pln-old', 'execute', 'boot-a', new Date('2026-09-01T00:00:00Z'));
    ledger.receipt('pln-new', 'boot-a', new Date('2026-11-20T00:00:00Z'));
    ledger.prune(new Date('2026-11-22T00:00:00Z'));
    expect(ledger.hasRun('pln-old', 'execute')).toBe(false);
    expect(ledger.receipt('pln-new', 'boot-z', new Date()).bootId).toBe('boot-a');
  });
});

describe('signatureIn', () => {
  const at = (offset: number, magic: Buffer | string): Buffer => {
    const head = Buffer.alloc(70_000, 0);
    (typeof magic === 'string' ? Buffer.from(magic, 'latin1') : magic).copy(head, offset);
    return head;
  };

  it('finds the signatures wipefs knows at their offsets, and nothing in an empty head', () => {
    expect(signatureIn(at(0, 'XFSB'))).toBe('xfs');
    expect(signatureIn(at(1080, Buffer.from([0x53, 0xef])))).toBe('ext2/3/4');
    expect(signatureIn(at(4086, 'SWAPSPACE2'))).toBe('swap');
    expect(signatureIn(at(512, 'LABELONE'))).toBe('LVM2_member');
    expect(signatureIn(at(65_600, '_BHRfS_M'))).toBe('btrfs');
    expect(signatureIn(at(0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe])))).toBe('crypto_LUKS');
    expect(signatureIn(Buffer.alloc(70_000, 0xa5))).toBeNull();
    expect(signatureIn(Buffer.alloc(100, 0))).toBeNull();
  });
});
