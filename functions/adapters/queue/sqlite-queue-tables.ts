import type Database from 'better-sqlite3';
import type { MessageAttribute, MessageAttributes } from './port.ts';

/**
 * The SQLite queue's tables (sqlite-queue.ts): the schema, the shapes of its rows, the statements
 * every operation runs, and how message attributes are kept in one column. Written once here so the
 * store (provisioning, retention, long polls) and its queue handles (sqlite-queue-handle.ts: send,
 * receive, delete) read and write the same rows the same way. The tables are prefixed
 * `work_queue`, so the file may be shared with the embedded store.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS work_queues (
  name TEXT PRIMARY KEY,
  visibility_timeout_ms INTEGER NOT NULL,
  max_message_bytes INTEGER NOT NULL,
  retention_ms INTEGER NOT NULL,
  dead_letter_queue TEXT,
  max_receive_count INTEGER,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS work_queue_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  message_id TEXT NOT NULL,
  body TEXT NOT NULL,
  attributes TEXT,
  sender_id TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0,
  receipt_handle TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS work_queue_messages_by_visibility
  ON work_queue_messages (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS work_queue_messages_by_age
  ON work_queue_messages (queue, sent_at);
CREATE UNIQUE INDEX IF NOT EXISTS work_queue_messages_by_receipt
  ON work_queue_messages (receipt_handle) WHERE receipt_handle IS NOT NULL;
`;

/** Milliseconds per second: the tables keep times and timeouts in milliseconds, the port speaks seconds. */
export const MS_PER_SECOND = 1_000;

/** One queue's configuration, as `work_queues` keeps it. */
export interface QueueRow {
  name: string;
  visibility_timeout_ms: number;
  max_message_bytes: number;
  retention_ms: number;
  dead_letter_queue: string | null;
  max_receive_count: number | null;
}

/** One message, as a receive reads it from `work_queue_messages`. */
export interface MessageRow {
  seq: number;
  message_id: string;
  body: string;
  attributes: string | null;
  sender_id: string;
  sent_at: number;
  visible_at: number;
  receive_count: number;
}

/** Creates the tables when missing and prepares the statements on them. */
export const prepareQueueTables = (db: Database.Database) => {
  db.exec(SCHEMA);
  return {
    getQueue: db.prepare<[string], QueueRow>(
      `SELECT name, visibility_timeout_ms, max_message_bytes, retention_ms, dead_letter_queue, max_receive_count
         FROM work_queues WHERE name = ?`,
    ),
    allQueues: db.prepare<[], { name: string; retention_ms: number }>(
      'SELECT name, retention_ms FROM work_queues',
    ),
    queueNames: db.prepare<[], string>('SELECT name FROM work_queues ORDER BY name').pluck(),
    upsertQueue: db.prepare<[string, number, number, number, string | null, number | null, number]>(
      `INSERT INTO work_queues
         (name, visibility_timeout_ms, max_message_bytes, retention_ms, dead_letter_queue, max_receive_count, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET
         visibility_timeout_ms = excluded.visibility_timeout_ms,
         max_message_bytes = excluded.max_message_bytes,
         retention_ms = excluded.retention_ms,
         dead_letter_queue = excluded.dead_letter_queue,
         max_receive_count = excluded.max_receive_count`,
    ),
    insertQueueIfMissing: db.prepare<[string, number, number, number, number]>(
      `INSERT INTO work_queues (name, visibility_timeout_ms, max_message_bytes, retention_ms, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
    ),
    insertMessage: db.prepare<[string, string, string, string | null, string, number, number]>(
      `INSERT INTO work_queue_messages (queue, message_id, body, attributes, sender_id, sent_at, visible_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    /** Ready messages after the cursor (visible_at, seq), in visibility order. */
    ready: db.prepare<[string, number, number, number, number], MessageRow>(
      `SELECT seq, message_id, body, attributes, sender_id, sent_at, visible_at, receive_count
         FROM work_queue_messages
        WHERE queue = ? AND visible_at <= ? AND (visible_at, seq) > (?, ?)
        ORDER BY visible_at, seq
        LIMIT ?`,
    ),
    markReceived: db.prepare<[string, number, number]>(
      `UPDATE work_queue_messages
          SET receipt_handle = ?, visible_at = ?, receive_count = receive_count + 1
        WHERE seq = ?`,
    ),
    moveToQueue: db.prepare<[string, number, number]>(
      `UPDATE work_queue_messages SET queue = ?, visible_at = ?, receipt_handle = NULL WHERE seq = ?`,
    ),
    deleteByReceipt: db.prepare<[string, string]>(
      'DELETE FROM work_queue_messages WHERE queue = ? AND receipt_handle = ?',
    ),
    changeVisibility: db.prepare<[number, string, string, number]>(
      `UPDATE work_queue_messages SET visible_at = ?
        WHERE queue = ? AND receipt_handle = ? AND visible_at > ?`,
    ),
    nextVisibleAt: db.prepare<[string, number], { visible_at: number | null }>(
      'SELECT MIN(visible_at) AS visible_at FROM work_queue_messages WHERE queue = ? AND visible_at > ?',
    ),
    counts: db.prepare<
      [number, number, number, string],
      { visible: number; in_flight: number; delayed: number }
    >(
      `SELECT
          COALESCE(SUM(visible_at <= ?), 0) AS visible,
          COALESCE(SUM(visible_at > ? AND receipt_handle IS NOT NULL), 0) AS in_flight,
          COALESCE(SUM(visible_at > ? AND receipt_handle IS NULL), 0) AS delayed
         FROM work_queue_messages WHERE queue = ?`,
    ),
    deleteOlderThan: db.prepare<[string, number]>(
      'DELETE FROM work_queue_messages WHERE queue = ? AND sent_at < ?',
    ),
  };
};

/** The prepared statements of the queue tables. */
export type QueueStatements = ReturnType<typeof prepareQueueTables>;

type StoredAttribute = { t: 'S' | 'N'; v: string } | { t: 'B'; v: string };

/** Message attributes as the `attributes` column keeps them: JSON, binary values in base64; null when none. */
export const encodeAttributes = (attributes: MessageAttributes | undefined): string | null => {
  const entries = Object.entries(attributes ?? {});
  if (entries.length === 0) return null;
  const stored: Record<string, StoredAttribute> = {};
  for (const [name, attribute] of entries) {
    stored[name] =
      attribute.type === 'Binary'
        ? { t: 'B', v: Buffer.from(attribute.value).toString('base64') }
        : { t: attribute.type === 'String' ? 'S' : 'N', v: attribute.value };
  }
  return JSON.stringify(stored);
};

/** The message attributes an `attributes` column holds. */
export const decodeAttributes = (text: string | null): MessageAttributes => {
  if (text === null) return {};
  const stored = JSON.parse(text) as Record<string, StoredAttribute>;
  const attributes: Record<string, MessageAttribute> = {};
  for (const [name, attribute] of Object.entries(stored)) {
    attributes[name] =
      attribute.t === 'B'
        ? { type: 'Binary', value: new Uint8Array(Buffer.from(attribute.v, 'base64')) }
        : { type: attribute.t === 'S' ? 'String' : 'Number', value: attribute.v };
  }
  return attributes;
};
