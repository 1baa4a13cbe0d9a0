import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PLAN_SIGNING_KEY_FILE } from '../../functions/adapters/signer/local-plan-signer.ts';
import type { SqliteStore } from '../../functions/adapters/store/sqlite-store.ts';
import { RuntimeConfig } from '../../local/config.ts';
import { type ControlPlane, DATA_FILES, startControlPlane } from '../../local/control-plane.ts';
import { agentEvent } from '../helpers/api-events.ts';
import { quickHealingConfig, startFaultlineUp, until, writeConfigFile } from '../helpers/faultline-up.ts';

/**
 * Storage faults under a running control plane are loud, never silent (issue #18): with its queue
 * file made unwritable, its data folder deleted, or its database file replaced, every event it
 * acknowledged (202) is in the store once the folder is recovered, every other got 503 saying what
 * happened, and `GET /v1/health` answers 503 with the reason meanwhile.
 *
 * The tests of the three faults post one heartbeat per host (so "in the store" is "the host's slice exists"): a first
 * wave before the fault, which is correlated and then backed up as an operator would (SQLite's
 * backup API, the signing key beside them); a second wave after it; then it recovers the
 * folder (the flag taken off, or the backup put back and the control plane started again) and
 * checks what was acknowledged. Without the checks of local/data-folder-watch.ts the second wave
 * of the deleted folder and of the replaced file gets 202 and is gone after recovery: these tests
 * fail then. Two more: the probe of the issue with a real `faultline up` child (its folder deleted,
 * then a start there, which now says it starts anew), and the queue file replaced on its own.
 *
 * The unwritable file is made with `chattr +i` (immutable), which refuses writes even to a
 * process that already has the file open, and even to root (a `chmod` does neither): the tests
 * run as root on a file system with attributes (ext4, xfs), as on the development machine.
 */

const OPERATOR_TOKEN = 'storage-faults-operator-token-0123456789';
const folder = mkdtempSync(join(tmpdir(), 'faultline-storage-faults-'));
const config = RuntimeConfig.parse({
  sweepIntervalSeconds: 0.2,
  queues: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 5 },
  notify: { destinations: [] },
});

let planes: ControlPlane[] = [];
const immutable: string[] = [];

const start = async (dataDir: string): Promise<ControlPlane> => {
  const plane = await startControlPlane({
    listen: '127.0.0.1',
    port: 0,
    dataDir,
    config,
    operatorToken: OPERATOR_TOKEN,
    log: () => undefined,
  });
  planes.push(plane);
  return plane;
};

afterEach(async () => {
  for (const file of immutable.splice(0)) execFileSync('chattr', ['-i', file]);
  await Promise.all(planes.map((plane) => plane.stop()));
  planes = [];
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

type Answer = {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; message: string } };
};

/** Posts one heartbeat of `hostId` with the operator token. */
const postHeartbeat = async (plane: ControlPlane, hostId: string): Promise<Answer> => {
  const response = await fetch(`${plane.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
    body: JSON.stringify(agentEvent('host.heartbeat', hostId, { subject: hostId })),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Answer['body'],
  };
};

/** Posts a heartbeat for each host, one after another; answers the hosts by the status they got. */
const postWave = async (plane: ControlPlane, hosts: readonly string[]): Promise<Map<number, string[]>> => {
  const byStatus = new Map<number, string[]>();
  for (const host of hosts) {
    const { status } = await postHeartbeat(plane, host);
    byStatus.set(status, [...(byStatus.get(status) ?? []), host]);
  }
  return byStatus;
};

const hostsIn = async (store: SqliteStore): Promise<Set<string>> => {
  const hosts = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.listHosts({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    for (const slice of page.items) hosts.add(slice.hostId);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return hosts;
};

/** Waits until every one of `hosts` has its slice in the plane's store. */
const untilStored = (plane: ControlPlane, hosts: readonly string[]): Promise<true> =>
  until(
    `${hosts.length} hosts in the store`,
    async () => {
      const stored = await hostsIn(plane.store);
      return hosts.every((host) => stored.has(host)) ? true : undefined;
    },
    60,
  );

const health = async (plane: ControlPlane) => {
  const response = await fetch(`${plane.url}/v1/health`);
  return {
    status: response.status,
    body: (await response.json()) as {
      status: string;
      store: { ok: boolean; detail?: string };
      queue?: { ok: boolean; detail?: string };
    },
  };
};

const hostsNamed = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index + 1}.example.net`);

/** The operator's backup of a running control plane's folder: both files by SQLite's backup API, the key. */
const backUp = async (plane: ControlPlane, into: string): Promise<void> => {
  mkdirSync(into, { recursive: true });
  await plane.store.backup(join(into, DATA_FILES.database));
  const queues = new Database(plane.queuesFile, { readonly: true });
  try {
    await queues.backup(join(into, DATA_FILES.queues));
  } finally {
    queues.close();
  }
  copyFileSync(join(plane.dataDir, PLAN_SIGNING_KEY_FILE), join(into, PLAN_SIGNING_KEY_FILE));
};

const restore = (backup: string, dataDir: string): void => {
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (const file of [DATA_FILES.database, DATA_FILES.queues, PLAN_SIGNING_KEY_FILE])
    copyFileSync(join(backup, file), join(dataDir, file));
};

describe('a control plane whose storage fails under it', () => {
  it('answers 503 while its queue file is unwritable, says why in health, and loses nothing it acknowledged', async () => {
    const dataDir = join(folder, 'unwritable');
    const plane = await start(dataDir);
    expect(await health(plane)).toMatchObject({
      status: 200,
      body: {
        status: 'ok',
        paused: false,
        store: { ok: true },
        queue: { ok: true },
        correlation: { ok: true },
      },
    });
    const before = hostsNamed('before-unwritable', 5);
    expect((await postWave(plane, before)).get(202)).toEqual(before);
    await untilStored(plane, before);

    for (const file of [plane.queuesFile, `${plane.queuesFile}-wal`]) {
      execFileSync('chattr', ['+i', file]);
      immutable.push(file);
    }
    const during = hostsNamed('during-unwritable', 5);
    const answered = await postWave(plane, during);
    expect(answered.get(503)).toEqual(during);
    expect(await health(plane)).toEqual({
      status: 503,
      body: expect.objectContaining({
        status: 'unavailable',
        store: { ok: true },
        queue: { ok: false, detail: 'the queue file is not writable' },
      }),
    });

    // Recovery: the file takes writes again; what got 503 is sent again, as an agent's spool does.
    for (const file of immutable.splice(0)) execFileSync('chattr', ['-i', file]);
    expect((await postWave(plane, during)).get(202)).toEqual(during);
    await untilStored(plane, [...before, ...during]);
    expect((await health(plane)).body).toMatchObject({ status: 'ok', queue: { ok: true } });
  }, 90_000);

  it('acknowledges nothing once its data folder is deleted, and says so', async () => {
    const dataDir = join(folder, 'deleted');
    const backup = join(folder, 'deleted-backup');
    const plane = await start(dataDir);
    const before = hostsNamed('before-delete', 5);
    expect((await postWave(plane, before)).get(202)).toEqual(before);
    await untilStored(plane, before);
    await backUp(plane, backup);

    rmSync(dataDir, { recursive: true, force: true });
    const after = hostsNamed('after-delete', 5);
    const refused = await postHeartbeat(plane, after[0] as string);
    expect(refused.status).toBe(503);
    expect(refused.body.error?.code).toBe('unavailable');
    expect(refused.retryAfter).toBe('30');
    expect(refused.body.error?.message).toContain('the data folder was deleted while the control plane ran');
    expect(refused.body.error?.message).toContain('restore it from a backup');
    expect(refused.body.error?.message).not.toContain(folder);
    const acknowledged = [...((await postWave(plane, after.slice(1))).get(202) ?? [])];
    const health503 = await health(plane);
    expect(health503.status).toBe(503);
    expect(health503.body).toMatchObject({
      status: 'unavailable',
      store: { ok: false, detail: 'the data folder was deleted' },
      queue: { ok: false, detail: 'the data folder was deleted' },
    });
    expect(JSON.stringify(health503.body)).not.toContain(folder);
    await plane.stop();

    // Recovery: the operator puts the backup back and starts again; every 202 is in the store.
    restore(backup, dataDir);
    const again = await start(dataDir);
    expect(again.dataFolder).toBe('existing');
    await untilStored(again, [...before, ...acknowledged]);
    expect(acknowledged).toEqual([]);
    expect((await postWave(again, after)).get(202)).toEqual(after);
    await untilStored(again, [...before, ...after]);
  }, 90_000);

  it('faultline up whose folder is deleted refuses, logs it, and a restart there says it starts anew', async () => {
    // The probe of issue #18, as an operator meets it: a real `faultline up`, its folder deleted.
    const dataDir = join(folder, 'cli-deleted');
    const configFile = writeConfigFile(
      join(folder, 'faultline.json'),
      quickHealingConfig({ maxPlansInFlight: 2, notify: { destinations: [] } }),
    );
    const up = await startFaultlineUp({ dataDir, configFile });
    try {
      const token = readFileSync(join(dataDir, DATA_FILES.operatorToken), 'utf8').trim();
      rmSync(dataDir, { recursive: true, force: true });
      const refused = await fetch(`${up.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(
          agentEvent('host.heartbeat', 'cli-deleted.example.net', { subject: 'cli-deleted.example.net' }),
        ),
      });
      expect(refused.status).toBe(503);
      expect((await fetch(`${up.url}/v1/health`)).status).toBe(503);
      await until(
        'the log line',
        () =>
          up.stderr().includes(`the data folder ${dataDir} was deleted while faultline up ran`)
            ? true
            : undefined,
        30,
      );
    } finally {
      await up.stop();
    }
    const again = await startFaultlineUp({ dataDir, configFile });
    try {
      await until(
        'the warning',
        () =>
          again.stderr().includes('held no control plane, so this start made a new plan-signing key')
            ? true
            : undefined,
        30,
      );
    } finally {
      await again.stop();
    }
  }, 90_000);

  it('acknowledges nothing once its queue file is replaced, and says which file', async () => {
    const plane = await start(join(folder, 'queue-replaced'));
    copyFileSync(plane.queuesFile, join(folder, 'other-queues.db'));
    renameSync(join(folder, 'other-queues.db'), plane.queuesFile);
    const refused = await postHeartbeat(plane, 'after-queue-replace.example.net');
    expect(refused.status).toBe(503);
    expect(refused.body.error?.message).toContain(
      `the queue file (${DATA_FILES.queues}) was replaced while the control plane ran`,
    );
    expect(await health(plane)).toMatchObject({
      status: 503,
      body: {
        status: 'unavailable',
        store: { ok: true },
        queue: { ok: false, detail: `the queue file (${DATA_FILES.queues}) was replaced` },
      },
    });
  }, 60_000);

  it("acknowledges nothing once its queue file's write-ahead log is deleted, and says which file", async () => {
    // SQLite goes on appending to the unlinked -wal: without the journal checks every commit after
    // the rm got 202 and was gone at the next open after an unclean stop.
    const plane = await start(join(folder, 'queue-wal-deleted'));
    const before = hostsNamed('before-wal-delete', 3);
    expect((await postWave(plane, before)).get(202)).toEqual(before);
    await untilStored(plane, before);
    rmSync(`${plane.queuesFile}-wal`);
    const refused = await postHeartbeat(plane, 'after-wal-delete.example.net');
    expect(refused.status).toBe(503);
    expect(refused.body.error?.message).toContain(
      `the queue file's write-ahead log (${DATA_FILES.queues}-wal) was deleted while the control plane ran`,
    );
    expect(await health(plane)).toMatchObject({
      status: 503,
      body: {
        status: 'unavailable',
        queue: {
          ok: false,
          detail: `the queue file's write-ahead log (${DATA_FILES.queues}-wal) was deleted`,
        },
      },
    });
  }, 60_000);

  it('answers 503 while correlate cannot write the database, holds its events, and loses none', async () => {
    // Only the database refuses (its -wal immutable: every commit fails) while the queue file takes
    // writes: without the decider's report ingest kept answering 202 and health ok, and each
    // failed batch used up a receive until the events went to the dead-letter queue.
    const dataDir = join(folder, 'database-unwritable');
    const plane = await start(dataDir);
    const before = hostsNamed('before-db-unwritable', 3);
    expect((await postWave(plane, before)).get(202)).toEqual(before);
    await untilStored(plane, before);

    execFileSync('chattr', ['+i', `${plane.databaseFile}-wal`]);
    immutable.push(`${plane.databaseFile}-wal`);
    // Queued, then refused by the database when correlate commits it: the report follows.
    const queued = 'queued-while-db-unwritable.example.net';
    expect((await postHeartbeat(plane, queued)).status).toBe(202);
    const unhealthy = await until(
      'health to say the database refuses writes',
      async () => {
        const answer = await health(plane);
        return answer.status === 503 ? answer : undefined;
      },
      60,
    );
    expect(unhealthy.body).toMatchObject({
      status: 'unavailable',
      store: { ok: false, detail: expect.stringContaining("correlate's writes fail") },
      queue: { ok: true },
    });
    const during = hostsNamed('during-db-unwritable', 3);
    const refused = await postHeartbeat(plane, during[0] as string);
    expect(refused).toMatchObject({ status: 503, retryAfter: '5', body: { error: { code: 'unavailable' } } });
    expect(refused.body.error?.message).toContain('the database refuses writes');
    expect((await postWave(plane, during.slice(1))).get(503)).toEqual(during.slice(1));

    // Recovery: the file takes writes again; the decider's probe sees it, and what got 503 is sent again.
    for (const file of immutable.splice(0)) execFileSync('chattr', ['-i', file]);
    await until(
      'health to be ok again',
      async () => ((await health(plane)).status === 200 ? true : undefined),
      60,
    );
    expect((await postWave(plane, during)).get(202)).toEqual(during);
    await untilStored(plane, [...before, queued, ...during]);
    const queues = new Database(plane.queuesFile, { readonly: true });
    try {
      const deadLettered = queues
        .prepare<[string], { count: number }>(
          'SELECT COUNT(*) AS count FROM work_queue_messages WHERE queue = ?',
        )
        .get('events-dlq');
      expect(deadLettered?.count).toBe(0);
    } finally {
      queues.close();
    }
  }, 120_000);

  it('acknowledges nothing once its database file is replaced, and correlates nothing into the old one', async () => {
    const dataDir = join(folder, 'replaced');
    const backup = join(folder, 'replaced-backup');
    const plane = await start(dataDir);
    const before = hostsNamed('before-replace', 5);
    expect((await postWave(plane, before)).get(202)).toEqual(before);
    await untilStored(plane, before);
    await backUp(plane, backup);

    // Another file renamed over the database, as a restore done under a running control plane does.
    copyFileSync(join(backup, DATA_FILES.database), join(folder, 'replacement.db'));
    renameSync(join(folder, 'replacement.db'), plane.databaseFile);
    const after = hostsNamed('after-replace', 5);
    const refused = await postHeartbeat(plane, after[0] as string);
    expect(refused.status).toBe(503);
    expect(refused.body.error?.message).toContain(
      `the database file (${DATA_FILES.database}) was replaced while the control plane ran`,
    );
    const acknowledged = [...((await postWave(plane, after.slice(1))).get(202) ?? [])];
    expect(await health(plane)).toMatchObject({
      status: 503,
      body: {
        status: 'unavailable',
        store: { ok: false, detail: `the database file (${DATA_FILES.database}) was replaced` },
        queue: { ok: true },
      },
    });
    // The store itself refuses to write to the file it opened once another is at its path.
    await expect(
      plane.store.putToken({
        hash: 'f'.repeat(64),
        kind: 'operator',
        label: 'orphan',
        createdAt: new Date().toISOString(),
      }),
    ).rejects.toThrow('was replaced while this process had it open');
    await plane.stop();
    // The old file's write-ahead log, which SQLite leaves when its file moved, is set aside: the
    // next start must not replay it into the file now at that path.
    expect(existsSync(`${plane.databaseFile}-wal`)).toBe(false);
    expect(
      readdirSync(dataDir).filter((name) => name.startsWith(`${DATA_FILES.database}-wal.orphaned-`)),
    ).toHaveLength(1);

    // Recovery: the control plane starts again on the folder as it now is.
    const again = await start(dataDir);
    await untilStored(again, [...before, ...acknowledged]);
    expect(acknowledged).toEqual([]);
    expect((await postWave(again, after)).get(202)).toEqual(after);
    await untilStored(again, [...before, ...after]);
  }, 90_000);
});
