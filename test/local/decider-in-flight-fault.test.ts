import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteQueueStore } from '../../functions/adapters/queue/sqlite-queue.ts';
import { SqliteStore } from '../../functions/adapters/store/sqlite-store.ts';
import { eventMessage, senderStamp } from '../../functions/correlate/messages.ts';
import { RuntimeConfig } from '../../local/config.ts';
import { startControlPlane } from '../../local/control-plane.ts';
import { API_SENDER, DATA_FILES, QUEUES } from '../../local/data-files.ts';
import { startDecider } from '../../local/decider.ts';
import { agentEvent } from '../helpers/api-events.ts';

/**
 * A storage fault that comes while a correlate batch is in flight (issue #18), not before it: the
 * decider's store commits a unit only while every part of the data folder is the one opened, so a
 * batch whose queue file went under it (its outbox may have sent a page into the deleted file) is
 * rolled back, not recorded as done. The fault is made at a known point of the batch: from the
 * decider's log, when the outbox logs a decision it performed, before the unit commits.
 */

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const config = RuntimeConfig.parse({
  queues: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 5 },
  notify: { destinations: [] },
});

describe('the decider, when its queue file goes while a batch runs', () => {
  it('rolls the batch back instead of committing it to the database', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'faultline-in-flight-'));
    folders.push(dataDir);
    const databaseFile = join(dataDir, DATA_FILES.database);
    const queuesFile = join(dataDir, DATA_FILES.queues);
    // A control plane makes the folder (files, queues, signing key), then leaves it to the decider.
    await (
      await startControlPlane({ listen: '127.0.0.1', port: 0, dataDir, config, log: () => undefined })
    ).stop();
    const hostId = 'in-flight.example.net';
    const queues = SqliteQueueStore.open(queuesFile);
    const sender = { kind: 'operator', label: 'test' } as const;
    await queues
      .queue(QUEUES.events)
      .withSender(API_SENDER)
      .send(
        eventMessage(
          {
            ...agentEvent('host.heartbeat', hostId, { subject: hostId }),
            receivedat: new Date().toISOString(),
            sentby: senderStamp(sender),
          },
          sender,
        ),
      );
    queues.close();

    let faultMade!: () => void;
    const made = new Promise<void>((done) => {
      faultMade = done;
    });
    let removed = false;
    const decider = startDecider(
      { dataDir, databaseFile, queuesFile, config, logLevel: 'debug' },
      (entry) => {
        // The batch has decided and performed its effects; its unit is not committed yet.
        if (entry.service === 'correlate' && 'decision' in entry && !removed) {
          removed = true;
          rmSync(queuesFile, { force: true });
          faultMade();
        }
      },
    );
    await made;
    await decider.stop();

    const store = new SqliteStore({ path: databaseFile });
    try {
      const page = await store.listHosts({ limit: 10 });
      expect(page.items.map((slice) => slice.hostId)).not.toContain(hostId);
    } finally {
      await store.close();
    }
  }, 60_000);
});
