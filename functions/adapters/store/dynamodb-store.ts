import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Plan } from '../../../events/index.ts';
import type { ControlSlice, DomainSlice, HostSlice, Incident, TimelineEntry } from '../../core/index.ts';
import {
  AdapterError,
  isTransientSdkError,
  messageOf,
  StoreRejectedError,
  StoreUnavailableError,
  sdkErrorName,
} from '../errors.ts';
import { INDEX_SHARDS } from './dynamodb-table.ts';
import type {
  AffectedHost,
  DecisionRecord,
  DecisionStatus,
  IncidentDetail,
  IncidentQuery,
  IncidentRecord,
  IncidentStats,
  Page,
  PageRequest,
  SliceRef,
  SliceValue,
  SliceWrite,
  Store,
  StoredPlan,
  StoredSlice,
  StoredToken,
  Wake,
  WriteOutcome,
} from './port.ts';
import {
  clampLimit,
  computeStats,
  decodeCursor,
  encodeCursor,
  expiryOf,
  LIMITS,
  matchesQuery,
  queryFingerprint,
  RETENTION,
  sortableTime,
} from './projection.ts';

/**
 * The store on DynamoDB, one table laid out as dynamodb-table.ts describes (its TSDoc has the
 * item and index layout; `STORE_TABLE` is what infra creates). Every method is one single-item
 * conditional write or a read: no transactions (dynalite, the emulator the tests use, has none,
 * and they cost double); the decision protocol of functions/outbox/ makes multi-slice decisions
 * atomic above this port.
 *
 * - Slices and decision records are read with strongly consistent reads; GSI queries (waiting
 *   hosts, due wakes, open domains, incident lists) are eventually consistent in DynamoDB, which
 *   the port allows: an index only says which slices to load.
 * - A JSON payload over {@link GZIP_ABOVE_BYTES} is stored gzipped (`valueGz`/`bodyGz`, Binary), so
 *   a host with many arrays or a decision that dispatches a wave stays far below the 400 KB item
 *   limit. An item the table still refuses is a `StoreRejectedError`.
 * - A failed condition is the `conflict` answer, never an error; throttling, 5xx and network
 *   failures are `StoreUnavailableError` (retryable); the rest `StoreRejectedError`.
 *
 * The client is passed in (built by the handler's `fromEnv`, never at module scope).
 */
export interface DynamoDbStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** The wall clock (ms), for the TTL of finished decisions. */
  readonly clock?: () => number;
}

/** Payloads larger than this are gzipped. */
export const GZIP_ABOVE_BYTES = 32 * 1024;

type Item = Record<string, unknown>;
type Key = { pk: string; sk: string };

const SLICE_SK = 'SLICE';
const MAX_BATCH_GET = 100;

const sliceKeyOf = (ref: SliceRef): Key => {
  switch (ref.kind) {
    case 'control':
      return { pk: 'CONTROL', sk: SLICE_SK };
    case 'domain':
      return { pk: `DOMAIN#${ref.id}`, sk: SLICE_SK };
    case 'host':
      return { pk: `HOST#${ref.id}`, sk: SLICE_SK };
  }
};
const decisionKey = (id: string): Key => ({ pk: `DECISION#${id}`, sk: 'DECISION' });
const incidentKey = (id: string): Key => ({ pk: `INCIDENT#${id}`, sk: 'INCIDENT' });
const affectedKey = (incidentId: string, hostId: string): Key => ({
  pk: `INCIDENT#${incidentId}`,
  sk: `HOST#${hostId}`,
});
const planKey = (id: string): Key => ({ pk: `PLAN#${id}`, sk: 'PLAN' });
const tokenKey = (hash: string): Key => ({ pk: `TOKEN#${hash}`, sk: 'TOKEN' });

const shardOf = (text: string, shards: number): number =>
  createHash('sha256').update(text).digest().readUInt32BE(0) % shards;
const padded = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(15, '0');
/** Sorts after every sort key that starts with the same prefix. */
const HIGH = '\uffff';

/** A JSON payload as attribute values: `<name>` (text) or `<name>Gz` (gzipped). */
const encodeJson = (name: string, value: unknown): Record<string, string | Uint8Array> => {
  const text = JSON.stringify(value);
  return Buffer.byteLength(text, 'utf8') > GZIP_ABOVE_BYTES
    ? { [`${name}Gz`]: new Uint8Array(gzipSync(text)) }
    : { [name]: text };
};

const decodeJson = <T>(item: Item, name: string): T | undefined => {
  const text = item[name];
  if (typeof text === 'string') return JSON.parse(text) as T;
  const zipped = item[`${name}Gz`];
  if (zipped instanceof Uint8Array) return JSON.parse(gunzipSync(zipped).toString('utf8')) as T;
  return undefined;
};

/** `SET` clauses for a JSON payload, removing the other encoding. */
const payloadUpdate = (
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

const isConditionFailure = (error: unknown): boolean =>
  sdkErrorName(error) === 'ConditionalCheckFailedException';

const wrap = (what: string, error: unknown): AdapterError => {
  if (error instanceof AdapterError) return error;
  const detail = `${what}: ${sdkErrorName(error)}: ${messageOf(error)}`;
  if (sdkErrorName(error) === 'ValidationException' || sdkErrorName(error) === 'ResourceNotFoundException') {
    return new StoreRejectedError(detail, { cause: error });
  }
  return isTransientSdkError(error)
    ? new StoreUnavailableError(detail, { cause: error })
    : new StoreRejectedError(detail, { cause: error });
};

const updateExpression = (set: readonly string[], remove: readonly string[]): string =>
  [set.length > 0 ? `SET ${set.join(', ')}` : '', remove.length > 0 ? `REMOVE ${remove.join(', ')}` : '']
    .filter((part) => part.length > 0)
    .join(' ');

const toRecord = (item: Item): DecisionRecord => {
  const body = decodeJson<Pick<DecisionRecord, 'writes' | 'effects'>>(item, 'body') ?? {
    writes: [],
    effects: [],
  };
  const done = (item.done ?? {}) as Record<string, unknown>;
  return {
    id: String(item.id),
    attempt: Number(item.attempt),
    status: item.status as DecisionStatus,
    at: String(item.at),
    createdAt: Number(item.createdAt),
    about: String(item.about),
    writes: body.writes,
    effects: body.effects,
    done: Object.keys(done)
      .map(Number)
      .sort((a, b) => a - b),
  };
};

const toIncident = (item: Item): IncidentRecord => ({
  ...(decodeJson<Incident>(item, 'body') as Incident),
  detectedAt: String(item.detectedAt),
  revision: Number(item.revision),
});

export class DynamoDbStore implements Store {
  readonly tableName: string;
  readonly #documents: DynamoDBDocumentClient;
  readonly #clock: () => number;

  constructor(options: DynamoDbStoreOptions) {
    this.tableName = options.tableName;
    this.#clock = options.clock ?? Date.now;
    this.#documents = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
  }

  /** One conditional update: `ok`, or `conflict` when the condition failed. */
  async #update(what: string, input: Omit<UpdateCommandInput, 'TableName'>): Promise<WriteOutcome> {
    try {
      await this.#documents.send(new UpdateCommand({ TableName: this.tableName, ...input }));
      return 'ok';
    } catch (error) {
      if (isConditionFailure(error)) return 'conflict';
      throw wrap(what, error);
    }
  }

  async #put(
    what: string,
    item: Item,
    condition: string,
    values?: Record<string, unknown>,
  ): Promise<WriteOutcome> {
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: condition,
          ...(values === undefined ? {} : { ExpressionAttributeValues: values }),
          ...(condition.includes('#status') ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
        }),
      );
      return 'ok';
    } catch (error) {
      if (isConditionFailure(error)) return 'conflict';
      throw wrap(what, error);
    }
  }

  async #get(what: string, key: Key): Promise<Item | undefined> {
    try {
      const answer = await this.#documents.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      return answer.Item;
    } catch (error) {
      throw wrap(what, error);
    }
  }

  async #query(
    what: string,
    input: Omit<QueryCommandInput, 'TableName'>,
  ): Promise<{ items: Item[]; next?: Item }> {
    try {
      const answer = await this.#documents.send(new QueryCommand({ TableName: this.tableName, ...input }));
      return {
        items: answer.Items ?? [],
        ...(answer.LastEvaluatedKey === undefined ? {} : { next: answer.LastEvaluatedKey }),
      };
    } catch (error) {
      throw wrap(what, error);
    }
  }

  /** Every item of a query, page after page (for small result sets: a host's plans, open domains, stats). */
  async #queryAll(what: string, input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.#query(what, {
        ...input,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      });
      items.push(...page.items);
      start = page.next;
    } while (start !== undefined);
    return items;
  }

  async #batchGet(what: string, keys: readonly Key[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let start = 0; start < keys.length; start += MAX_BATCH_GET) {
      let pending: Key[] = [
        ...new Map(keys.slice(start, start + MAX_BATCH_GET).map((key) => [key.pk, key])).values(),
      ];
      for (let round = 0; pending.length > 0; round += 1) {
        if (round > 8) throw new StoreUnavailableError(`${what}: keys left unprocessed`);
        try {
          const answer = await this.#documents.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            }),
          );
          for (const item of answer.Responses?.[this.tableName] ?? [])
            found.set(`${item.pk}|${item.sk}`, item);
          pending = (answer.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
        } catch (error) {
          throw wrap(what, error);
        }
      }
    }
    return found;
  }

  // ——————————————————————————————————————— slices

  async getSlices(refs: readonly SliceRef[]): Promise<StoredSlice[]> {
    const found = await this.#batchGet(
      'read slices',
      refs.map((ref) => sliceKeyOf(ref)),
    );
    return refs.map((ref): StoredSlice => {
      const key = sliceKeyOf(ref);
      const item = found.get(`${key.pk}|${key.sk}`);
      return {
        ref,
        value: item === undefined ? undefined : decodeJson<SliceValue>(item, 'payload'),
        version: item === undefined ? 0 : Number(item.version ?? 0),
        lock: typeof item?.lock === 'string' ? item.lock : undefined,
        applied: Array.isArray(item?.applied) ? (item.applied as string[]) : [],
      };
    });
  }

  /** The update of a slice write: its payload, version, applied list and index attributes. */
  #sliceWrite(write: SliceWrite): { set: string[]; remove: string[]; values: Record<string, unknown> } {
    const values: Record<string, unknown> = { ':next': write.expected + 1, ':applied': [...write.applied] };
    const payload = payloadUpdate('payload', write.value, values);
    const set = [...payload.set, 'version = :next', 'applied = :applied'];
    const remove = [...payload.remove];
    if (write.ref.kind !== 'control') {
      const wakeAt = (write.value as DomainSlice | HostSlice).wakeAt;
      if (wakeAt === undefined) remove.push('gsi1pk', 'gsi1sk');
      else {
        values[':wakePk'] = `WAKE#${shardOf(`${write.ref.kind}:${write.ref.id}`, INDEX_SHARDS.wake)}`;
        values[':wakeSk'] = `${sortableTime(wakeAt)}#${write.ref.kind}#${write.ref.id}`;
        set.push('gsi1pk = :wakePk', 'gsi1sk = :wakeSk');
      }
    }
    if (write.ref.kind === 'domain') {
      const episode = (write.value as DomainSlice).episode;
      if (episode !== undefined && episode.incident.status !== 'resolved') {
        values[':openPk'] = 'OPEN_DOMAINS';
        values[':openSk'] = write.ref.id;
        set.push('gsi2pk = :openPk', 'gsi2sk = :openSk');
      } else remove.push('gsi2pk', 'gsi2sk');
    }
    return { set, remove, values };
  }

  async putSlice(write: SliceWrite): Promise<WriteOutcome> {
    const { set, remove, values } = this.#sliceWrite(write);
    values[':expected'] = write.expected;
    const versionCondition =
      write.expected === 0 ? '(attribute_not_exists(version) OR version = :expected)' : 'version = :expected';
    return this.#update('write a slice', {
      Key: sliceKeyOf(write.ref),
      UpdateExpression: updateExpression(set, remove),
      ConditionExpression: `${versionCondition} AND attribute_not_exists(#lock)`,
      ExpressionAttributeNames: { '#lock': 'lock' },
      ExpressionAttributeValues: values,
    });
  }

  async lockSlice(ref: SliceRef, expected: number, token: string): Promise<WriteOutcome> {
    const versionCondition =
      expected === 0 ? '(attribute_not_exists(version) OR version = :expected)' : 'version = :expected';
    return this.#update('lock a slice', {
      Key: sliceKeyOf(ref),
      UpdateExpression: 'SET #lock = :token, version = if_not_exists(version, :zero)',
      ConditionExpression: `${versionCondition} AND (attribute_not_exists(#lock) OR #lock = :token)`,
      ExpressionAttributeNames: { '#lock': 'lock' },
      ExpressionAttributeValues: { ':token': token, ':expected': expected, ':zero': 0 },
    });
  }

  async applyLocked(write: SliceWrite, token: string): Promise<WriteOutcome> {
    const { set, remove, values } = this.#sliceWrite(write);
    values[':token'] = token;
    return this.#update('write a locked slice', {
      Key: sliceKeyOf(write.ref),
      UpdateExpression: updateExpression(set, [...remove, '#lock']),
      ConditionExpression: '#lock = :token',
      ExpressionAttributeNames: { '#lock': 'lock' },
      ExpressionAttributeValues: values,
    });
  }

  async unlockSlice(ref: SliceRef, token: string): Promise<void> {
    await this.#update('unlock a slice', {
      Key: sliceKeyOf(ref),
      UpdateExpression: 'REMOVE #lock',
      ConditionExpression: '#lock = :token',
      ExpressionAttributeNames: { '#lock': 'lock' },
      ExpressionAttributeValues: { ':token': token },
    });
  }

  async waitingHosts(incidentId: string, limit: number): Promise<string[]> {
    const page = await this.#query('read waiting hosts', {
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :pk',
      ExpressionAttributeValues: { ':pk': `WAITING#${incidentId}` },
      Limit: limit,
    });
    return page.items.map((item) => String(item.gsi2sk));
  }

  async openDomains(): Promise<string[]> {
    const items = await this.#queryAll('read open domains', {
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :pk',
      ExpressionAttributeValues: { ':pk': 'OPEN_DOMAINS' },
    });
    return items.map((item) => String(item.gsi2sk));
  }

  async dueWakes(now: string, limit: number): Promise<Wake[]> {
    const until = `${sortableTime(now)}#${HIGH}`;
    const pages = await Promise.all(
      Array.from({ length: INDEX_SHARDS.wake }, (_, shard) =>
        this.#query('read due wakes', {
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk <= :until',
          ExpressionAttributeValues: { ':pk': `WAKE#${shard}`, ':until': until },
          Limit: limit,
        }),
      ),
    );
    return pages
      .flatMap((page) => page.items.map((item) => String(item.gsi1sk)))
      .sort()
      .slice(0, limit)
      .map((sortKey) => {
        const [at = '', kind = '', ...id] = sortKey.split('#');
        return { kind: kind as Wake['kind'], id: id.join('#'), at };
      });
  }

  // ——————————————————————————————————————— the outbox

  #decisionItem(record: DecisionRecord): Item {
    const unfinished = record.status === 'pending' || record.status === 'committed';
    return {
      ...decisionKey(record.id),
      id: record.id,
      attempt: record.attempt,
      status: record.status,
      at: record.at,
      createdAt: record.createdAt,
      about: record.about,
      ...encodeJson('body', { writes: record.writes, effects: record.effects }),
      done: Object.fromEntries(record.done.map((index) => [String(index), true])),
      ...(unfinished
        ? {
            gsi1pk: `UNFINISHED#${shardOf(record.id, INDEX_SHARDS.unfinished)}`,
            gsi1sk: `${padded(record.createdAt)}#${record.id}`,
          }
        : { expiresAt: Math.floor(this.#clock() / 1000) + RETENTION.decisionSeconds }),
    };
  }

  async putDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    return replacing === undefined
      ? this.#put('write a decision', this.#decisionItem(record), 'attribute_not_exists(pk)')
      : this.#put(
          'replace a decision',
          this.#decisionItem(record),
          'attempt = :replacing AND #status = :aborted',
          {
            ':replacing': replacing,
            ':aborted': 'aborted',
          },
        );
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    const item = await this.#get('read a decision', decisionKey(id));
    return item === undefined ? undefined : toRecord(item);
  }

  async setDecisionStatus(
    id: string,
    attempt: number,
    from: DecisionStatus,
    to: DecisionStatus,
  ): Promise<WriteOutcome> {
    const finished = to === 'done' || to === 'aborted';
    return this.#update('move a decision', {
      Key: decisionKey(id),
      UpdateExpression: finished
        ? 'SET #status = :to, expiresAt = :expires REMOVE gsi1pk, gsi1sk'
        : 'SET #status = :to',
      ConditionExpression: 'attempt = :attempt AND #status = :from',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':to': to,
        ':from': from,
        ':attempt': attempt,
        ...(finished ? { ':expires': Math.floor(this.#clock() / 1000) + RETENTION.decisionSeconds } : {}),
      },
    });
  }

  async markEffectDone(id: string, attempt: number, index: number): Promise<void> {
    await this.#update('mark an effect done', {
      Key: decisionKey(id),
      UpdateExpression: 'SET done.#index = :true',
      ConditionExpression: 'attempt = :attempt',
      ExpressionAttributeNames: { '#index': String(index) },
      ExpressionAttributeValues: { ':attempt': attempt, ':true': true },
    });
  }

  async unfinishedDecisions(createdBefore: number, limit: number): Promise<DecisionRecord[]> {
    const until = `${padded(createdBefore)}#${HIGH}`;
    const pages = await Promise.all(
      Array.from({ length: INDEX_SHARDS.unfinished }, (_, shard) =>
        this.#query('read unfinished decisions', {
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk <= :until',
          ExpressionAttributeValues: { ':pk': `UNFINISHED#${shard}`, ':until': until },
          Limit: limit,
        }),
      ),
    );
    return pages
      .flatMap((page) => page.items)
      .filter((item) => item.status === 'pending' || item.status === 'committed')
      .sort((a, b) => (String(a.gsi1sk) < String(b.gsi1sk) ? -1 : 1))
      .slice(0, limit)
      .map(toRecord);
  }

  // ——————————————————————————————————————— projections

  async putIncident(incident: Incident, revision: number, detectedAt: string): Promise<void> {
    const opened = sortableTime(incident.openedAt);
    const values: Record<string, unknown> = {
      ':revision': revision,
      ':detectedAt': detectedAt,
      ':all': 'INCIDENTS',
      ':status': `STATUS#${incident.status}`,
      ':domain': `DOMAIN#${incident.failureDomain}`,
      ':opened': `${opened}#${incident.id}`,
    };
    const payload = payloadUpdate('body', incident, values);
    const expires =
      incident.status === 'resolved' ? expiryOf(incident.resolvedAt, RETENTION.incidentSeconds) : undefined;
    const set = [
      ...payload.set,
      'revision = :revision',
      'detectedAt = if_not_exists(detectedAt, :detectedAt)',
      'gsi1pk = :all',
      'gsi1sk = :opened',
      'gsi2pk = :status',
      'gsi2sk = :opened',
      'gsi3pk = :domain',
      'gsi3sk = :opened',
    ];
    const remove = [...payload.remove];
    if (expires === undefined) remove.push('expiresAt');
    else {
      values[':expires'] = expires;
      set.push('expiresAt = :expires');
    }
    await this.#update('write an incident', {
      Key: incidentKey(incident.id),
      UpdateExpression: updateExpression(set, remove),
      ConditionExpression: 'attribute_not_exists(revision) OR revision < :revision',
      ExpressionAttributeValues: values,
    });
  }

  async putAffectedHost(row: AffectedHost, revision: number): Promise<void> {
    const values: Record<string, unknown> = {
      ':revision': revision,
      ':body': JSON.stringify(row),
      ':hostPk': `AFFECTED#${row.hostId}`,
      ':hostSk': `${sortableTime(row.joinedAt)}#${row.incidentId}`,
      ':expires': expiryOf(row.joinedAt, RETENTION.incidentSeconds),
    };
    const set = [
      'body = :body',
      'revision = :revision',
      'gsi1pk = :hostPk',
      'gsi1sk = :hostSk',
      'expiresAt = :expires',
    ];
    const remove: string[] = [];
    if (row.status === 'waiting') {
      values[':waitingPk'] = `WAITING#${row.incidentId}`;
      values[':waitingSk'] = row.hostId;
      set.push('gsi2pk = :waitingPk', 'gsi2sk = :waitingSk');
    } else remove.push('gsi2pk', 'gsi2sk');
    await this.#update('write an affected host', {
      Key: affectedKey(row.incidentId, row.hostId),
      UpdateExpression: updateExpression(set, remove),
      ConditionExpression: 'attribute_not_exists(revision) OR revision < :revision',
      ExpressionAttributeValues: values,
    });
  }

  async putTimeline(entry: TimelineEntry): Promise<void> {
    const at = sortableTime(entry.at);
    await this.#put(
      'write a timeline row',
      {
        pk: `INCIDENT#${entry.incidentId}`,
        sk: `TL#${at}#${entry.id}`,
        body: JSON.stringify(entry),
        expiresAt: expiryOf(at, RETENTION.incidentSeconds),
      },
      'attribute_not_exists(pk)',
    );
  }

  async putPlan(plan: Plan): Promise<void> {
    const validUntil = new Date(Date.parse(plan.issuedAt) + plan.ttlSeconds * 1000).toISOString();
    const values: Record<string, unknown> = {
      ':hostId': plan.hostId,
      ':validUntil': validUntil,
      ':plansPk': `PLANS#${plan.hostId}`,
      ':plansSk': `${sortableTime(plan.issuedAt)}#${plan.id}`,
      ':expires': expiryOf(validUntil, RETENTION.planSeconds),
    };
    const payload = payloadUpdate('body', plan, values);
    await this.#update('write a plan', {
      Key: planKey(plan.id),
      UpdateExpression: updateExpression(
        [
          ...payload.set,
          'hostId = :hostId',
          'validUntil = :validUntil',
          'gsi1pk = :plansPk',
          'gsi1sk = :plansSk',
          'expiresAt = :expires',
        ],
        [],
      ),
      ConditionExpression: 'attribute_not_exists(body) AND attribute_not_exists(bodyGz)',
      ExpressionAttributeValues: values,
    });
  }

  async revokePlan(planId: string, hostId: string, at: string): Promise<void> {
    await this.#update('revoke a plan', {
      Key: planKey(planId),
      UpdateExpression:
        'SET revoked = :true, revokedAt = if_not_exists(revokedAt, :at), hostId = if_not_exists(hostId, :hostId), expiresAt = if_not_exists(expiresAt, :expires)',
      ExpressionAttributeValues: {
        ':true': true,
        ':at': at,
        ':hostId': hostId,
        ':expires': expiryOf(at, RETENTION.planSeconds),
      },
    });
  }

  async listIncidents(query: IncidentQuery): Promise<Page<IncidentRecord>> {
    const limit = clampLimit(query.limit, LIMITS.defaultIncidents, LIMITS.maxIncidents);
    const fingerprint = queryFingerprint(query);
    let start = query.cursor === undefined ? undefined : (decodeCursor(query.cursor, fingerprint) as Item);
    const from = query.since === undefined ? '' : sortableTime(query.since);
    const to = query.until === undefined ? HIGH : `${sortableTime(query.until)}#${HIGH}`;
    const byTime = (
      indexName: string,
      pkName: string,
      skName: string,
      pk: string,
    ): Omit<QueryCommandInput, 'TableName'> => ({
      IndexName: indexName,
      KeyConditionExpression: `${pkName} = :pk AND ${skName} BETWEEN :from AND :to`,
      ExpressionAttributeValues: { ':pk': pk, ':from': from, ':to': to },
      ScanIndexForward: false,
    });
    const input =
      query.host !== undefined
        ? {
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :pk',
            ExpressionAttributeValues: { ':pk': `AFFECTED#${query.host}` },
            ScanIndexForward: false,
          }
        : query.domain !== undefined
          ? byTime('gsi3', 'gsi3pk', 'gsi3sk', `DOMAIN#${query.domain}`)
          : query.status !== undefined
            ? byTime('gsi2', 'gsi2pk', 'gsi2sk', `STATUS#${query.status}`)
            : byTime('gsi1', 'gsi1pk', 'gsi1sk', 'INCIDENTS');
    const items: IncidentRecord[] = [];
    do {
      const page = await this.#query('list incidents', {
        ...input,
        Limit: limit - items.length,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      });
      let incidents: IncidentRecord[];
      if (query.host === undefined) incidents = page.items.map(toIncident);
      else {
        const found = await this.#batchGet(
          'read incidents',
          page.items.map((item) => incidentKey(String(item.pk).slice('INCIDENT#'.length))),
        );
        incidents = page.items.flatMap((item) => {
          const incident = found.get(`${item.pk}|INCIDENT`);
          return incident === undefined ? [] : [toIncident(incident)];
        });
      }
      items.push(...incidents.filter((incident) => matchesQuery(incident, query)));
      start = page.next;
    } while (start !== undefined && items.length < limit);
    return { items, ...(start === undefined ? {} : { cursor: encodeCursor(start, fingerprint) }) };
  }

  async getIncident(id: string, page: { readonly limit?: number } = {}): Promise<IncidentDetail | undefined> {
    const item = await this.#get('read an incident', incidentKey(id));
    if (item === undefined) return undefined;
    const request = page.limit === undefined ? {} : { limit: page.limit };
    const [timeline, affectedHosts] = await Promise.all([
      this.listTimeline(id, request),
      this.listAffectedHosts(id, request),
    ]);
    return { incident: toIncident(item), timeline, affectedHosts };
  }

  async #incidentRows<T>(incidentId: string, prefix: string, page: PageRequest): Promise<Page<T>> {
    const limit = clampLimit(page.limit, LIMITS.defaultPage, LIMITS.maxPage);
    const fingerprint = queryFingerprint(`${prefix}:${incidentId}`);
    const start = page.cursor === undefined ? undefined : (decodeCursor(page.cursor, fingerprint) as Item);
    const answer = await this.#query('read incident rows', {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `INCIDENT#${incidentId}`, ':prefix': prefix },
      ConsistentRead: true,
      Limit: limit,
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    });
    return {
      items: answer.items.map((item) => JSON.parse(String(item.body)) as T),
      ...(answer.next === undefined ? {} : { cursor: encodeCursor(answer.next, fingerprint) }),
    };
  }

  listTimeline(incidentId: string, page: PageRequest = {}): Promise<Page<TimelineEntry>> {
    return this.#incidentRows<TimelineEntry>(incidentId, 'TL#', page);
  }

  listAffectedHosts(incidentId: string, page: PageRequest = {}): Promise<Page<AffectedHost>> {
    return this.#incidentRows<AffectedHost>(incidentId, 'HOST#', page);
  }

  async getPlan(planId: string): Promise<StoredPlan | undefined> {
    const item = await this.#get('read a plan', planKey(planId));
    const plan = item === undefined ? undefined : decodeJson<Plan>(item, 'body');
    if (item === undefined || plan === undefined) return undefined;
    return {
      plan,
      revoked: item.revoked === true,
      ...(typeof item.revokedAt === 'string' ? { revokedAt: item.revokedAt } : {}),
    };
  }

  async plansForHost(hostId: string, now: string): Promise<Plan[]> {
    const at = sortableTime(now);
    const items = await this.#queryAll("read a host's plans", {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': `PLANS#${hostId}` },
    });
    return items.flatMap((item) => {
      if (item.revoked === true || typeof item.validUntil !== 'string' || item.validUntil <= at) return [];
      const plan = decodeJson<Plan>(item, 'body');
      return plan === undefined ? [] : [plan];
    });
  }

  async stats(window: { readonly since?: string; readonly until?: string } = {}): Promise<IncidentStats> {
    const items = await this.#queryAll('read stats', {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': 'INCIDENTS',
        ':from': window.since === undefined ? '' : sortableTime(window.since),
        ':to': window.until === undefined ? HIGH : `${sortableTime(window.until)}#${HIGH}`,
      },
    });
    return computeStats(items.map(toIncident), window);
  }

  async getControl(): Promise<ControlSlice> {
    const [control] = await this.getSlices([{ kind: 'control' }]);
    return (control?.value as ControlSlice | undefined) ?? { paused: false };
  }

  // ——————————————————————————————————————— tokens

  async putToken(token: StoredToken): Promise<WriteOutcome> {
    return this.#put(
      'write a token',
      {
        ...tokenKey(token.hash),
        body: JSON.stringify(token),
        gsi1pk: 'TOKENS',
        gsi1sk: `${token.createdAt}#${token.hash}`,
      },
      'attribute_not_exists(pk)',
    );
  }

  async getToken(hash: string): Promise<StoredToken | undefined> {
    const item = await this.#get('read a token', tokenKey(hash));
    return item === undefined ? undefined : (JSON.parse(String(item.body)) as StoredToken);
  }

  async deleteToken(hash: string): Promise<void> {
    try {
      await this.#documents.send(new DeleteCommand({ TableName: this.tableName, Key: tokenKey(hash) }));
    } catch (error) {
      throw wrap('delete a token', error);
    }
  }

  async listTokens(): Promise<StoredToken[]> {
    const items = await this.#queryAll('list tokens', {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': 'TOKENS' },
    });
    return items.map((item) => JSON.parse(String(item.body)) as StoredToken);
  }

  async close(): Promise<void> {
    // The client belongs to whoever passed it in.
  }
}
