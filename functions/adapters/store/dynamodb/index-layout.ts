import { INDEX_SHARDS } from '../dynamodb-table.ts';
import type { Key } from './items.ts';
import type { TableClient } from './table-client.ts';

/**
 * The move of a table's index entries to the layout of ../dynamodb-table.ts, for a table written
 * before the layout changed. Slices' wakes were in `gsi1` (`WAKE#<n>`), unfinished decision
 * records in `gsi1` (`UNFINISHED#<n>`) and open domains in `gsi2` (`OPEN_DOMAINS`), all `ALL`
 * indexes; they are now in the keys-only `gsi5` (wakes) and `gsi4` (the others), under the same
 * key values. Reading only the new indexes would hide what such a table held: timers set before
 * the upgrade would never fire, sweep would never see a decision left unfinished, a resume would
 * skip a domain already open.
 *
 * So, before the first read of those indexes in a process, {@link IndexLayout.ready} reads the
 * table's layout mark (one item); when it is older, it moves every legacy entry (one conditional
 * update each: the old key attributes removed, the same values set on the new ones, only if the
 * old ones are still what was listed), then writes the mark. Concurrent movers are safe: the
 * condition fails for the one that comes second. Every slice write removes the legacy attributes
 * too (./slices.ts), so an item rewritten meanwhile is moved by its own write.
 */

/** The layout this code reads and writes. */
const LAYOUT = 2;
const MARK: Key = { pk: 'META#index-layout', sk: 'META' };

/** A legacy partition, and where its entries go. */
interface LegacyPartition {
  readonly from: 'gsi1' | 'gsi2';
  readonly to: 'gsi4' | 'gsi5';
  readonly partition: string;
}

const LEGACY: readonly LegacyPartition[] = [
  ...Array.from({ length: INDEX_SHARDS.wake }, (_, shard) => ({
    from: 'gsi1' as const,
    to: 'gsi5' as const,
    partition: `WAKE#${shard}`,
  })),
  ...Array.from({ length: INDEX_SHARDS.unfinished }, (_, shard) => ({
    from: 'gsi1' as const,
    to: 'gsi4' as const,
    partition: `UNFINISHED#${shard}`,
  })),
  { from: 'gsi2', to: 'gsi4', partition: 'OPEN_DOMAINS' },
];

/** The attributes of the legacy index entries, which a slice write removes. */
export const LEGACY_SLICE_INDEX_ATTRIBUTES = ['gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'] as const;

export class IndexLayout {
  readonly #table: TableClient;
  #ready: Promise<void> | undefined;

  constructor(table: TableClient) {
    this.#table = table;
  }

  /** Resolves once the table's index entries are in this layout (moved now if they were not). */
  ready(): Promise<void> {
    const ready =
      this.#ready ??
      this.#upgrade().catch((error: unknown) => {
        // Tried again at the next read.
        this.#ready = undefined;
        throw error;
      });
    this.#ready = ready;
    return ready;
  }

  async #upgrade(): Promise<void> {
    const mark = await this.#table.get('read the index layout', MARK);
    if (Number(mark?.layout ?? 0) >= LAYOUT) return;
    for (const legacy of LEGACY) {
      const entries = await this.#table.queryAll('list legacy index entries', {
        IndexName: legacy.from,
        KeyConditionExpression: `${legacy.from}pk = :pk`,
        ExpressionAttributeValues: { ':pk': legacy.partition },
      });
      for (const entry of entries) {
        // A conflict: the entry moved or changed since it was listed (a write of the new layout moved it).
        await this.#table.update('move a legacy index entry', {
          Key: { pk: String(entry.pk), sk: String(entry.sk) },
          UpdateExpression: `SET ${legacy.to}pk = :pk, ${legacy.to}sk = :sk REMOVE ${legacy.from}pk, ${legacy.from}sk`,
          ConditionExpression: `${legacy.from}pk = :pk AND ${legacy.from}sk = :sk`,
          ExpressionAttributeValues: { ':pk': legacy.partition, ':sk': String(entry[`${legacy.from}sk`]) },
        });
      }
    }
    await this.#table.put(
      'write the index layout',
      { ...MARK, layout: LAYOUT },
      'attribute_not_exists(pk) OR layout < :layout',
      {
        ':layout': LAYOUT,
      },
    );
  }
}
