import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  capturedOutputFiles,
  createCapturedToolRunner,
  createLiveToolRunner,
  sosCommandFileName,
  type ToolRequest,
} from '../../../agent/scan/tool-runner.ts';
import { buildTree, removeScratchTrees, writeTreeFile } from '../../helpers/agent-probes.ts';

afterAll(removeScratchTrees);

const at = (seconds: number): Date => new Date(Date.UTC(2026, 10, 22, 3, 0, seconds));

const request = (overrides: Partial<ToolRequest> = {}): ToolRequest => ({
  tool: 'multipath',
  args: ['-ll'],
  fingerprint: 'sdc=running/0',
  now: at(0),
  ...overrides,
});

/** A folder of fake tools: each prints its arguments and locale, and counts its runs in a file. */
const fakeTools = (): string => {
  const bin = buildTree({});
  for (const tool of ['multipath', 'mdadm']) {
    writeTreeFile(
      bin,
      tool,
      `#!/bin/sh\necho run >> "${join(bin, `${tool}.runs`)}"\necho "${tool} $* LC_ALL=$LC_ALL"\necho "a warning" >&2\n`,
    );
    chmodSync(join(bin, tool), 0o755);
  }
  writeTreeFile(bin, 'metastat', '#!/bin/sh\nsleep 5\necho late\n');
  chmodSync(join(bin, 'metastat'), 0o755);
  return bin;
};

const runs = (bin: string, tool: string): number => {
  try {
    return readFileSync(join(bin, `${tool}.runs`), 'utf8')
      .split('\n')
      .filter(Boolean).length;
  } catch {
    return 0;
  }
};

describe('sosCommandFileName', () => {
  it('mangles a command as sos names its output file', () => {
    expect(sosCommandFileName('multipath -ll')).toBe('multipath_-ll');
    expect(sosCommandFileName('mdadm -D /dev/md*')).toBe('mdadm_-D_.dev.md');
    expect(sosCommandFileName('/usr/sbin/ldm list -p')).toBe('ldm_list_-p');
    expect(sosCommandFileName('mdadm --detail /dev/md0')).toBe('mdadm_--detail_.dev.md0');
  });

  it('lists the files a tree may hold for each request, first choice first', () => {
    expect(capturedOutputFiles({ tool: 'mdadm', args: ['--detail', '/dev/md0'] })).toEqual([
      'sos_commands/md/mdadm_--detail_.dev.md0',
      'sos_commands/md/mdadm_-D_.dev.md0',
      'sos_commands/md/mdadm_-D_.dev.md',
    ]);
    expect(capturedOutputFiles({ tool: 'ldm', args: ['list', '-p'] })).toEqual([
      'sos_commands/ldoms/ldm_list_-p',
      'sos_commands/ldoms/ldm_list',
    ]);
    expect(capturedOutputFiles({ tool: 'mdadm', args: ['--examine', '/dev/sdb3'] })).toEqual([
      'sos_commands/md/mdadm_--examine_.dev.sdb3',
      'sos_commands/md/mdadm_-E_.dev.sdb3',
    ]);
    expect(capturedOutputFiles({ tool: 'metastat', args: [] })).toEqual(['sos_commands/svm/metastat']);
    expect(capturedOutputFiles({ tool: 'metadb', args: ['-i'] })).toEqual([
      'sos_commands/svm/metadb_-i',
      'sos_commands/svm/metadb',
    ]);
  });
});

describe('createCapturedToolRunner', () => {
  it('reads the captured output, falling back to the all-arrays capture, and null when nothing was captured', async () => {
    const root = buildTree({
      'sos_commands/multipath/multipath_-ll': 'mpatha (3600a) dm-0 IBM,2145\n',
      'sos_commands/md/mdadm_-D_.dev.md': '/dev/md0:\n',
    });
    const run = createCapturedToolRunner(root);
    expect(await run(request())).toBe('mpatha (3600a) dm-0 IBM,2145\n');
    expect(await run(request({ tool: 'mdadm', args: ['--detail', '/dev/md0'] }))).toBe('/dev/md0:\n');
    expect(await run(request({ tool: 'metastat', args: [] }))).toBeNull();
  });
});

describe('createLiveToolRunner', () => {
  it('runs the tool with its argument vector and the C locale, stdout then stderr', async () => {
    const bin = fakeTools();
    const run = createLiveToolRunner({ searchPath: [bin] });
    expect(await run(request({ tool: 'mdadm', args: ['--detail', '/dev/md0'] }))).toBe(
      'mdadm --detail /dev/md0 LC_ALL=C\na warning\n',
    );
  });

  it('reuses an output while the fingerprint holds and the refresh interval has not passed', async () => {
    const bin = fakeTools();
    const run = createLiveToolRunner({ searchPath: [bin], refreshSeconds: 30 });
    await run(request({ now: at(0) }));
    await run(request({ now: at(5) }));
    await run(request({ now: at(29) }));
    expect(runs(bin, 'multipath')).toBe(1);
    await run(request({ now: at(31) }));
    expect(runs(bin, 'multipath')).toBe(2);
    await run(request({ now: at(32), fingerprint: 'sdc=offline/17' }));
    expect(runs(bin, 'multipath')).toBe(3);
  });

  it('skips a tool that is not installed and one that does not answer in time', async () => {
    const bin = fakeTools();
    const run = createLiveToolRunner({ searchPath: [bin], timeoutMs: 200 });
    expect(await run(request({ tool: 'ldm', args: ['list', '-p'] }))).toBeNull();
    const started = Date.now();
    expect(await run(request({ tool: 'metastat', args: [] }))).toBeNull();
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
