import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LspathOutput, LsvgOutput, PARSE_OUTPUTS } from '../../../events/index.ts';
import { parseLdmList, toLdmOutput } from '../../../probes/ldm.ts';
import { parseLspath, toLspathOutput } from '../../../probes/lspath.ts';
import { parseLsvgLogicalVolumes, toLsvgOutput } from '../../../probes/lsvg.ts';
import { parseMdstat, toMdstatOutput } from '../../../probes/mdstat.ts';
import { parseMetastat, toMetastatOutput } from '../../../probes/metastat.ts';
import { parseMultipath, toMultipathOutput } from '../../../probes/multipath.ts';
import { AGENT_FIXTURES, fixtureText } from '../../helpers/agent-probes.ts';

const AGENT_BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'faultline-agent');

type Result = { code: number; stdout: string; stderr: string };

/** Runs `./bin/faultline-agent` as a child process, optionally feeding stdin. */
const agent = (args: string[], stdin?: string): Promise<Result> =>
  new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [AGENT_BIN, ...args],
      { encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(stdin ?? '');
  });

describe('faultline-agent parse', () => {
  it.each([
    ['mdstat', 'mdstat/recovering.txt', (text: string) => toMdstatOutput(parseMdstat(text))],
    [
      'multipath',
      'multipath/alua-failed-path.txt',
      (text: string) => toMultipathOutput(parseMultipath(text)),
    ],
    [
      'metastat',
      'metastat/last-erred-hot-spares.txt',
      (text: string) => toMetastatOutput(parseMetastat(text)),
    ],
    ['ldm', 'ldm/list-parseable.txt', (text: string) => toLdmOutput(parseLdmList(text))],
  ] as const)('prints the §6 %s JSON of a file', async (tool, fixture, expected) => {
    const result = await agent(['parse', tool, join(AGENT_FIXTURES, fixture)]);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(PARSE_OUTPUTS[tool].strict().safeParse(printed).success).toBe(true);
    expect(printed).toEqual(expected(fixtureText(fixture)));
  });

  it('prints exactly the §6 keys: an mdstat array and its members carry nothing else', async () => {
    const result = await agent(['parse', 'mdstat', join(AGENT_FIXTURES, 'mdstat/degraded-faulty.txt')]);
    const printed = JSON.parse(result.stdout);
    expect(Object.keys(printed)).toEqual(['arrays']);
    expect(Object.keys(printed.arrays[0]).sort()).toEqual(
      ['active', 'degraded', 'level', 'members', 'name', 'progress', 'state', 'total'].sort(),
    );
    expect(printed.arrays[2]).toEqual({
      name: 'md0',
      level: 'raid1',
      state: 'degraded',
      degraded: true,
      total: 2,
      active: 1,
      progress: null,
      members: [
        { device: 'sdb1', index: 1, flags: ['faulty'] },
        { device: 'sda1', index: 0, flags: [] },
      ],
    });
  });

  it('reads stdin when no file is named, and reports skipped lines on stderr without failing', async () => {
    const result = await agent(['parse', 'multipath'], fixtureText('multipath/garbled.txt'));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).maps[0].name).toBe('mpatha');
    expect(result.stderr).toContain(
      "multipath line 5: mpatha: path device 'dasda' is not a canonical disk name",
    );
  });

  it('prints the §6 lsvg JSON of lsvg -l: copies, and stale partitions null where lsvg -l does not count them', async () => {
    const result = await agent(['parse', 'lsvg', join(AGENT_FIXTURES, 'lsvg/lsvg-l-rootvg-stale.txt')]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const printed = JSON.parse(result.stdout);
    expect(LsvgOutput.strict().safeParse(printed).success).toBe(true);
    expect(printed).toEqual(
      toLsvgOutput(parseLsvgLogicalVolumes(fixtureText('lsvg/lsvg-l-rootvg-stale.txt'))),
    );
    expect(Object.keys(printed)).toEqual(['volumeGroups']);
    expect(printed.volumeGroups[0].name).toBe('rootvg');
    expect(printed.volumeGroups[0].logicalVolumes.slice(0, 2)).toEqual([
      { name: 'hd5', copies: 2, stalePartitions: 0, state: 'closed/syncd' },
      { name: 'hd6', copies: 2, stalePartitions: null, state: 'open/stale' },
    ]);
    expect(Object.keys(printed.volumeGroups[0].logicalVolumes[0]).sort()).toEqual(
      ['copies', 'name', 'stalePartitions', 'state'].sort(),
    );
  });

  it('prints the §6 metadb JSON of metadb -i: each replica with its slice, flags, active and errors', async () => {
    const result = await agent(['parse', 'metadb', join(AGENT_FIXTURES, 'metadb/replicas-in-error.txt')]);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.replicas).toHaveLength(6);
    expect(printed.replicas[0]).toEqual({ slice: 'c0d0s7', flags: 'ampluo', active: true, errors: false });
    expect(printed.replicas[5]).toEqual({ slice: 'c0d1s7', flags: 'Wpl', active: false, errors: true });
  });

  it('prints the §6 lspath JSON of any lspath form, from stdin, with a Failed path and its connection', async () => {
    const result = await agent(['parse', 'lspath'], fixtureText('lspath/path-id.txt'));
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(LspathOutput.strict().safeParse(printed).success).toBe(true);
    expect(printed).toEqual(toLspathOutput(parseLspath(fixtureText('lspath/path-id.txt'))));
    expect(printed.paths[3]).toEqual({
      device: 'hdisk2',
      parent: 'fscsi1',
      status: 'Failed',
      connection: '500507680b22ac1c,1000000000000',
    });
    const plain = JSON.parse(
      (await agent(['parse', 'lspath', join(AGENT_FIXTURES, 'lspath/default.txt')])).stdout,
    );
    expect(plain.paths[1]).toEqual({ device: 'hdisk1', parent: 'vscsi1', status: 'Failed' });
  });

  it('reports the lsvg and lspath lines it skipped on stderr, without failing', async () => {
    const lsvg = await agent(['parse', 'lsvg', join(AGENT_FIXTURES, 'lsvg/garbled.txt')]);
    expect(lsvg.code).toBe(0);
    expect(lsvg.stderr).toContain("lsvg line 6: rootvg: hd3: LV STATE 'half/open' not understood");
    const lspath = await agent(['parse', 'lspath', join(AGENT_FIXTURES, 'lspath/garbled.txt')]);
    expect(lspath.code).toBe(0);
    expect(lspath.stderr).toContain("lspath line 4: 'sdb' is not an hdisk");
    expect(JSON.parse(lspath.stdout).paths).toHaveLength(2);
  });

  it('is a usage error (2) for an unknown tool and a failure (1) for a file it cannot read', async () => {
    const unknown = await agent(['parse', 'zpool']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown tool 'zpool'");
    const missing = await agent(['parse', 'ldm', join(AGENT_FIXTURES, 'ldm', 'no-such-file.txt')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
    expect(missing.stdout).toBe('');
  });
});
