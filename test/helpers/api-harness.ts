import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReceivedMessage } from '../../functions/adapters/queue/port.ts';
import { type SqliteQueue, SqliteQueueStore } from '../../functions/adapters/queue/sqlite-queue.ts';
import { SqliteStore } from '../../functions/adapters/store/sqlite-store.ts';
import { hashToken } from '../../functions/adapters/store/tokens.ts';
import { type ApiDeps, createApp } from '../../functions/api/app.ts';
import { freshHost, type HostSlice } from '../../functions/core/index.ts';
import { parseSenderStamp, SENDER_ATTRIBUTE } from '../../functions/correlate/messages.ts';

/**
 * The API in-process over real embedded adapters: the SQLite store and the SQLite events queue on
 * files in a temporary folder, and a clock that moves only when a test moves it.
 */

export const API_NOW = Date.parse('2026-11-22T03:40:00.000Z');
export const OPERATOR_SECRET = 'flt_operator-secret-for-tests-0000000000000000';
export const agentSecret = (hostId: string): string => `flt_agent-${hostId.replaceAll('.', '-')}-secret`;

export interface QueuedMessage {
  readonly body: Record<string, unknown>;
  readonly sender: ReturnType<typeof parseSenderStamp>;
  readonly senderId: string | undefined;
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: answers are inspected freely by the tests
  readonly body: any;
  readonly text: string;
}

export interface RequestOptions {
  readonly token?: string;
  /** A value is sent as JSON; a string as it is. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface ApiHarness {
  readonly app: ReturnType<typeof createApp>;
  readonly store: SqliteStore;
  readonly events: SqliteQueue;
  readonly folder: string;
  /** The store's SQLite file. */
  readonly storePath: string;
  readonly clock: { now: number };
  readonly logs: Readonly<Record<string, unknown>>[];
  /** Stores an agent token for `hostId` and answers its secret. */
  agentToken(hostId: string): Promise<string>;
  /** Writes a host slice as correlate would after that host's heartbeats. */
  putHost(hostId: string, patch: Partial<HostSlice>): Promise<void>;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiAnswer>;
  /** Everything on the events queue (received and deleted). */
  drain(): Promise<QueuedMessage[]>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** What the app sees of the store (a wrapper that fails on purpose); the harness seeds the real one. */
  readonly wrapStore?: (store: SqliteStore) => ApiDeps['store'];
}

export const apiHarness = async (
  deps: Partial<ApiDeps> = {},
  options: HarnessOptions = {},
): Promise<ApiHarness> => {
  const folder = mkdtempSync(join(tmpdir(), 'faultline-api-'));
  const storePath = join(folder, 'store.db');
  const store = new SqliteStore({ path: storePath });
  const queues = SqliteQueueStore.open(join(folder, 'queue.db'));
  const events = queues.queue('events').withSender('api');
  const clock = { now: API_NOW };
  const logs: Readonly<Record<string, unknown>>[] = [];
  await store.putToken({
    hash: hashToken(OPERATOR_SECRET),
    kind: 'operator',
    label: 'ops',
    createdAt: new Date(API_NOW).toISOString(),
  });
  const app = createApp({
    store: options.wrapStore?.(store) ?? store,
    eventsQueue: events,
    now: () => clock.now,
    log: (entry) => logs.push(entry),
    ...deps,
  });

  const putHost = async (hostId: string, patch: Partial<HostSlice>): Promise<void> => {
    const [stored] = await store.getSlices([{ kind: 'host', id: hostId }]);
    const version = stored?.version ?? 0;
    const value: HostSlice = { ...((stored?.value as HostSlice | undefined) ?? freshHost(hostId)), ...patch };
    const outcome = await store.putSlice({
      ref: { kind: 'host', id: hostId },
      expected: version,
      value,
      applied: [],
    });
    if (outcome !== 'ok') throw new Error(`could not write host ${hostId}`);
  };

  return {
    app,
    store,
    events,
    folder,
    storePath,
    clock,
    logs,
    agentToken: async (hostId) => {
      const secret = agentSecret(hostId);
      await store.putToken({
        hash: hashToken(secret),
        kind: 'agent',
        hostId,
        createdAt: new Date(API_NOW).toISOString(),
      });
      return secret;
    },
    putHost,
    request: async (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: response.status, headers: response.headers, body: parsed, text };
    },
    drain: async () => {
      const drained: QueuedMessage[] = [];
      for (;;) {
        const batch: ReceivedMessage[] = await events.receive({
          maxMessages: 10,
          visibilityTimeoutSeconds: 600,
        });
        if (batch.length === 0) return drained;
        for (const message of batch) {
          const stamp = message.attributes[SENDER_ATTRIBUTE];
          drained.push({
            body: JSON.parse(message.body) as Record<string, unknown>,
            sender: parseSenderStamp(stamp?.type === 'String' ? stamp.value : undefined),
            senderId: message.senderId,
          });
          await events.delete(message.receiptHandle);
        }
      }
    },
    close: async () => {
      await store.close();
      queues.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
};
