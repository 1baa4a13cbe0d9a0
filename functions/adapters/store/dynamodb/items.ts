import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { SliceRef } from '../port.ts';

/**
 * The items of the DynamoDB store as ../dynamodb-table.ts lays them out: their keys, the shards
 * of the sharded index keys, the sortable padding of numbers in sort keys, and how a JSON payload
 * is stored (as text, or gzipped above {@link GZIP_ABOVE_BYTES}).
 */

/**
 * Payloads larger than this are gzipped. DynamoDB charges a write unit per KB of the whole item,
 * and its slices and records are JSON that repeats itself (keys, failure domains): a host slice of
 * 2.4–2.7 KB gzips to under 1 KB. So a payload that alone would take more than one unit is
 * stored gzipped (a host with many arrays or a decision that dispatches a wave then also stays far
 * below the 400 KB item limit). Items written as text before are read as they are.
 */
export const GZIP_ABOVE_BYTES = 1024;

/** An item as the document client reads and writes it. */
export type Item = Record<string, unknown>;
/** The primary key of an item. */
export type Key = { pk: string; sk: string };

const SLICE_SK = 'SLICE';

export const sliceKeyOf = (ref: SliceRef): Key => {
  switch (ref.kind) {
    case 'control':
      return { pk: 'CONTROL', sk: SLICE_SK };
    case 'domain':
      return { pk: `DOMAIN#${ref.id}`, sk: SLICE_SK };
    case 'host':
      return { pk: `HOST#${ref.id}`, sk: SLICE_SK };
  }
};
export const decisionKey = (id: string): Key => ({ pk: `DECISION#${id}`, sk: 'DECISION' });
export const incidentKey = (id: string): Key => ({ pk: `INCIDENT#${id}`, sk: 'INCIDENT' });
export const affectedKey = (incidentId: string, hostId: string): Key => ({
  pk: `INCIDENT#${incidentId}`,
  sk: `HOST#${hostId}`,
});
export const planKey = (id: string): Key => ({ pk: `PLAN#${id}`, sk: 'PLAN' });
export const tokenKey = (hash: string): Key => ({ pk: `TOKEN#${hash}`, sk: 'TOKEN' });
/** A registered server's grant: its own partition, apart from the host's slice (`HOST#<id>`). */
export const hostRecordKey = (hostId: string): Key => ({ pk: `SERVER#${hostId}`, sk: 'GRANT' });
/** What the collect route remembers of an sh agent's host: its own partition too. */
export const collectKey = (hostId: string): Key => ({ pk: `COLLECT#${hostId}`, sk: 'COLLECT' });

/** Which of `shards` index partitions an item's index key goes to (stable: a hash of `text`). */
export const shardOf = (text: string, shards: number): number =>
  createHash('sha256').update(text).digest().readUInt32BE(0) % shards;
/** A non-negative count of milliseconds as text that sorts like the number. */
export const padded = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(15, '0');
/** Sorts after every sort key that starts with the same prefix. */
export const HIGH = '\uffff';

/** A JSON payload as attribute values: `<name>` (text) or `<name>Gz` (gzipped). */
export const encodeJson = (name: string, value: unknown): Record<string, string | Uint8Array> => {
  const text = JSON.stringify(value);
  return Buffer.byteLength(text, 'utf8') > GZIP_ABOVE_BYTES
    ? { [`${name}Gz`]: new Uint8Array(gzipSync(text)) }
    : { [name]: text };
};

/** The payload `name` of an item, whichever way {@link encodeJson} stored it; undefined when absent. */
export const decodeJson = <T>(item: Item, name: string): T | undefined => {
  const text = item[name];
  if (typeof text === 'string') return JSON.parse(text) as T;
  const zipped = item[`${name}Gz`];
  if (zipped instanceof Uint8Array) return JSON.parse(gunzipSync(zipped).toString('utf8')) as T;
  return undefined;
};

/** `SET` clauses for a JSON payload, removing the other encoding. */
export const payloadUpdate = (
  name: string,
  value: unknown,
  values: Record<string, unknown>,
): { set: string[]; remove: string[] } => {
  const encoded = encodeJson(name, value);
  const [[attribute, data]] = Object.entries(encoded) as [[string, unknown]];
  values[`:${attribute}`] = data;
  return {
    set: [`${attribute} = :${attribute}`],
    remove: [attribute === name ? `${name}Gz` : name],
  };
};

/** An `UpdateExpression` of `SET` and `REMOVE` clauses, either of them empty. */
export const updateExpression = (set: readonly string[], remove: readonly string[]): string =>
  [set.length > 0 ? `SET ${set.join(', ')}` : '', remove.length > 0 ? `REMOVE ${remove.join(', ')}` : '']
    .filter((part) => part.length > 0)
    .join(' ');
