import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPlan } from '../../../events/index.ts';
import type { AffectedHost } from '../../../functions/adapters/store/port.ts';
import { DEFAULT_CORE_CONFIG, type DomainSlice } from '../../../functions/core/index.ts';
import { at, HostingPartition, random, VscsiClient, vscsi } from '../../helpers/core-fleet.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { dynamoStore } from '../../helpers/store-dynamodb.ts';
import { storeFleet } from '../../helpers/store-fleet.ts';

/**
 * docs/architecture.md §2 "the largest outage must save as easily as the smallest": a hosting partition
 * under 5,000 clients goes down and comes back, on DynamoDB. Every item of the table is measured
 * by DynamoDB's own rule (attribute names plus values) against its 400 KB limit.
 */

const HOSTS = 5000;
const ITEM_LIMIT_BYTES = 400 * 1024;

/** An attribute value's size as DynamoDB counts it. */
const valueSize = (value: AttributeValue): number => {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, item) => sum + 1 + valueSize(item), 0);
  if (value.M !== undefined) {
    return (
      3 +
      Object.entries(value.M).reduce(
        (sum, [name, item]) => sum + 1 + Buffer.byteLength(name) + valueSize(item),
        0,
      )
    );
  }
  if (value.SS !== undefined) return value.SS.reduce((sum, item) => sum + Buffer.byteLength(item), 0);
  return 0;
};
const itemSize = (item: Record<string, AttributeValue>): number =>
  Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value), 0);

let dynamo: Dynalite;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

describe('a 5,000-host incident on DynamoDB', () => {
  it('saves, dispatches its canary and answers its queries with every item far below the 400 KB limit', {
    timeout: 900_000,
  }, async () => {
    const { store, tableName } = await dynamoStore(dynamo);
    const fleet = storeFleet(store, DEFAULT_CORE_CONFIG);
    const rng = random(5000);
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const clients = Array.from(
      { length: HOSTS },
      (_, index) => new VscsiClient(`client${String(index).padStart(5, '0')}`, rng),
    );
    await fleet.engine.applyInput(vios2.heartbeat(at(0)), at(0));
    for (const client of clients) await fleet.engine.applyInput(client.heartbeat(at(1)), at(1));
    for (const [index, client] of clients.entries()) {
      const time = at(100 + index * 0.004);
      await fleet.engine.applyInput(client.rootDegraded(time), time);
    }
    await fleet.engine.applyInput(vios2.iplCompleted(at(200), at(190)), at(200));
    expect(await fleet.engine.tickDue(at(260))).toBeGreaterThan(0);

    const [incident, ...others] = (await store.listIncidents({})).items;
    expect(others).toEqual([]);
    expect(incident).toMatchObject({
      kind: 'outage',
      failureDomain: vscsi('vios2'),
      affectedHosts: HOSTS,
      status: 'remediating',
    });
    const id = incident?.id ?? '';

    const detail = await store.getIncident(id, { limit: 50 });
    expect(detail?.affectedHosts.items).toHaveLength(50);
    expect(detail?.timeline.items.slice(0, 3).map((entry) => entry.text)).toContainEqual(
      expect.stringMatching(/ down: symptoms from 2 clients$/),
    );
    const rows: AffectedHost[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listAffectedHosts(id, {
        limit: 1000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      rows.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(rows).toHaveLength(HOSTS);
    expect(new Set(rows.map((row) => row.hostId)).size).toBe(HOSTS);
    expect((await store.listIncidents({ host: 'client04999' })).items.map((found) => found.id)).toEqual([id]);
    expect((await store.listIncidents({ domain: vscsi('vios2'), status: 'remediating' })).items).toHaveLength(
      1,
    );
    expect((await store.stats()).byDomain).toEqual([
      expect.objectContaining({ failureDomain: vscsi('vios2'), incidents: 1, affectedHosts: HOSTS }),
    ]);

    // The canary went to the first waiting host by id, found through the waiting index.
    const canary = await store.plansForHost('client00000', at(261));
    expect(canary).toHaveLength(1);
    expect(verifyPlan(canary[0] as NonNullable<(typeof canary)[0]>, fleet.signer.publicKey)).toBe(true);
    const [domain] = await store.getSlices([{ kind: 'domain', id: vscsi('vios2') }]);
    expect((domain?.value as DomainSlice | undefined)?.episode).toMatchObject({
      waiting: HOSTS - 1,
      dispatched: 1,
    });

    const client = dynamo.client();
    let largest = { size: 0, key: '' };
    let items = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: tableName,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of page.Items ?? []) {
        items += 1;
        const size = itemSize(item);
        if (size > largest.size) largest = { size, key: `${item.pk?.S} ${item.sk?.S}` };
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    console.log(`5,000-host incident: ${items} items, the largest ${largest.size} bytes (${largest.key})`);
    expect(items).toBeGreaterThan(3 * HOSTS);
    expect(largest.size).toBeLessThan(ITEM_LIMIT_BYTES / 10);
  });
});
