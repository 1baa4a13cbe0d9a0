import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CORE_CONFIG } from '../../../functions/core/index.ts';
import { SEED } from '../../helpers/core-fleet.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { dynamoStore } from '../../helpers/store-dynamodb.ts';
import { memoryFleet, playStorm, storeFleet } from '../../helpers/store-fleet.ts';
import { tempSqliteStore } from '../../helpers/store-sqlite.ts';

describe(`the decision engine on a store (seed ${SEED})`, () => {
  let fixture: Awaited<ReturnType<typeof tempSqliteStore>>;
  beforeEach(async () => {
    fixture = await tempSqliteStore();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('gives exactly what the in-memory world gives for a 40-client IPL storm: incidents, plans, pages, timeline', async () => {
    const memory = memoryFleet(DEFAULT_CORE_CONFIG);
    await playStorm(memory, { clients: 40, seed: SEED });
    const stored = storeFleet(fixture.store, DEFAULT_CORE_CONFIG);
    await playStorm(stored, { clients: 40, seed: SEED });
    const expected = await memory.output();
    const actual = await stored.output();
    expect(expected.plans).toHaveLength(40);
    expect(expected.incidents.filter((incident) => incident.kind === 'outage')).toHaveLength(1);
    expect(actual.incidents).toEqual(expected.incidents);
    expect(actual.plans).toEqual(expected.plans);
    expect(actual.notifications).toEqual(expected.notifications);
    expect(actual.timeline).toEqual(expected.timeline);
    expect(stored.notifyQueue.sent).toHaveLength(expected.notifications.length);
    expect(new Set(stored.signer.signed).size).toBe(stored.signer.signed.length);
  });
});

describe(`the decision engine on DynamoDB (seed ${SEED})`, () => {
  let dynamo: Dynalite;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  it('gives exactly what the in-memory world gives for a 12-client IPL storm', async () => {
    const memory = memoryFleet(DEFAULT_CORE_CONFIG);
    await playStorm(memory, { clients: 12, seed: SEED });
    const { store } = await dynamoStore(dynamo);
    const stored = storeFleet(store, DEFAULT_CORE_CONFIG);
    await playStorm(stored, { clients: 12, seed: SEED });
    const expected = await memory.output();
    expect(expected.plans).toHaveLength(12);
    expect(await stored.output()).toEqual(expected);
  });
});
