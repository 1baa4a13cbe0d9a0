import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/faultline-up.ts';

/**
 * What `faultline up` prints while its handlers decide (issue #17): at `--log-level info` (the
 * default) one readable line per incident change and none of the JSON decision records; at
 * `--log-level debug` every entry as a JSON line, one per decision included. `bin/faultline up`
 * runs as a person runs it, in a child process, fed the opening of the 40-client VIOS storm over
 * HTTP with its operator token.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'faultline');
const STORM = join(ROOT, 'events', 'examples', 'storms', 'vios2-ipl-40-clients.ndjson');
/** The storm's heartbeats and symptoms, up to vios2's return: they open the outage. */
const OUTAGE_LINES = 82;

const folder = mkdtempSync(join(tmpdir(), 'faultline-up-log-'));
const children = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(folder, { recursive: true, force: true });
});

/** `faultline up` at `level` on a free port, with its stdout and stderr kept; answers once it listens. */
const up = async (level: 'info' | 'debug') => {
  const data = join(folder, level);
  const config = join(folder, `${level}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      core: {
        groupingWindowSeconds: 10,
        holdDownSeconds: 10,
        stabilitySeconds: 1,
        escalateDownSeconds: 3600,
      },
      sweepIntervalSeconds: 0.2,
      queues: { waitTimeSeconds: 1 },
      notify: { destinations: [] },
    }),
  );
  const child = spawn(BIN, ['up', '--port', '0', '--data', data, '--config', config, '--log-level', level], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await until(
    'faultline up to listen',
    () => /listening on (http:\/\/\S+)/.exec(stdout)?.[1],
    120,
  );
  const token = readFileSync(join(data, 'operator-token'), 'utf8').trim();
  const storm = readFileSync(STORM, 'utf8').split('\n').filter(Boolean).slice(0, OUTAGE_LINES);
  const posted = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: `[${storm.join(',')}]`,
  });
  expect(posted.status).toBe(202);
  return { stdout: () => stdout, stderr: () => stderr };
};

const isJson = (line: string): boolean => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};

describe('faultline up on a terminal', () => {
  it('prints one readable line per incident change at info, and no JSON decision record', async () => {
    const plane = await up('info');
    const opened = await until(
      'the outage opened, told in a line',
      () =>
        /^\d\d:\d\d:\d\d {2}(inc-\S+) {2}outage opened on vscsi:\S+\/vios2: .+$/m.exec(plane.stdout()) ??
        undefined,
      60,
    );
    const incident = opened[1] ?? '';
    const output = plane.stdout();
    expect(output).toMatch(/pages go to: nowhere: kept in each incident's timeline/);
    expect(output).toMatch(/ {2}web page: http:\/\/127\.0\.0\.1:\d+\/ \(sign in with the operator token\)/);
    expect(output).toContain(`  ${incident}  vscsi:Server-9080-M9S-SN78AB12C/vios2 down: `);
    const lines = output.split('\n').filter((line) => line.trim().length > 0);
    expect(lines.filter(isJson)).toEqual([]);
    // Each incident change is one line: the opening once, the domain down once.
    expect(lines.filter((line) => line.includes(`${incident}  outage opened`))).toHaveLength(1);
    expect(plane.stderr()).not.toMatch(/"decision"/);
  });

  it('prints every entry as a JSON line at debug, one per decision, in Powertools Logger’s shape', async () => {
    const plane = await up('debug');
    const decision = await until(
      'a decision record',
      () =>
        plane
          .stdout()
          .split('\n')
          .filter(isJson)
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((entry) => typeof entry.decision === 'string'),
      60,
    );
    expect(decision).toMatchObject({
      level: 'DEBUG',
      service: 'correlate',
      timestamp: expect.any(String),
      about: expect.any(String),
    });
    const opened = await until(
      'the opening as a JSON line',
      () =>
        plane
          .stdout()
          .split('\n')
          .filter(isJson)
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((entry) => entry.change === 'opened'),
      60,
    );
    expect(opened).toMatchObject({
      level: 'INFO',
      service: 'correlate',
      message: expect.stringMatching(/^outage opened/),
    });
  });
});
