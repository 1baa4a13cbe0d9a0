import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { FaultlineEvent } from '../events/index.ts';
import type { OutgoingMessage } from '../functions/adapters/queue/port.ts';
import { LocalPlanSigner } from '../functions/adapters/signer/local-plan-signer.ts';
import { DynamoDbStore } from '../functions/adapters/store/dynamodb-store.ts';
import { createStoreTable, STORE_TABLE } from '../functions/adapters/store/dynamodb-table.ts';
import { DEFAULT_CORE_CONFIG, type DomainSlice } from '../functions/core/index.ts';
import { createHandler as createCorrelate } from '../functions/correlate/handler.ts';
import { createHandler as createSweep } from '../functions/sweep/handler.ts';
import { FUNCTION_SIZING } from '../infra/settings.ts';
import { at } from '../test/helpers/core-fleet.ts';
import { correlateSettings, queueRecord } from '../test/helpers/store-correlate.ts';
import { stormAgents } from './dispatch.ts';
import { failureDomainOf, stormEvents } from './storm.ts';
import { type BenchRow, count, underMark } from './table.ts';

/**
 * Section 6 of `npm run bench` (docs/architecture.md §7, "cloud cost"): what an event costs on
 * AWS. A storm of 1,000 clients (first heartbeats, one `mirror.degraded` each, the server's IPL,
 * the stability tick that sends the canary, then two rounds of heartbeats from 250 clients of
 * which the second is the steady state) is applied by the real correlate handler in batches of
 * 10, as agents send it straight to SQS (bound by `SenderId`, vios2 registered as a server), on
 * the DynamoDB store over dynalite in a child process, so the handler's time is its own.
 *
 * How units are counted (dynalite reports only the table's share):
 * - **Writes**: each write's item is read before and after (consistent reads on a second client,
 *   not counted) and charged by DynamoDB's rule: the larger of the two sizes, 1 unit per KB begun,
 *   at least 1; a failed condition is charged too (the existing item's size, at least 1). Each GSI
 *   the item is in, or leaves, is charged as DynamoDB does: a put of the new entry, a delete of
 *   the old one when its key changed, a rewrite when a projected attribute changed (`ALL`
 *   indexes), nothing for a `KEYS_ONLY` index whose keys stayed. dynalite's own
 *   `ConsumedCapacity` (TOTAL) for the table is kept beside, as a check of the sizes.
 * - **Reads**: dynalite's `ConsumedCapacity` (TOTAL: 4 KB per unit, halved for eventually
 *   consistent reads and GSI queries), with DynamoDB's minimum of one unit's worth per request
 *   (0.5 eventually consistent, 1 strongly).
 *
 * Then, on a second run without the metering reads: Lambda ms per event (the handler's wall time
 * per invocation of 10 records; DynamoDB answers on loopback here, faster than in a region), log
 * bytes per event (what the handlers print to stdout, as on Lambda, plus Lambda's text prefix on
 * each line and its START/END/REPORT lines per invocation), SQS requests per event, and $ per
 * million events at the public prices below. Left out: sweep's invocation every minute (a fixed
 * cost, not per event), notify's invocations, KMS signatures (per plan, not per event).
 */

/** Public prices, us-east-1, as of 2026-12 (on-demand, no free tier). */
export const PRICES = {
  asOf: '2026-12',
  region: 'us-east-1',
  /** DynamoDB on-demand: per million write request units. */
  dynamoDbWriteUnitMillion: 0.625,
  /** DynamoDB on-demand: per million read request units. */
  dynamoDbReadUnitMillion: 0.125,
  /** Lambda duration per GB-second (x86; Arm, which infra deploys, is 20 % less). */
  lambdaGbSecond: 0.000_016_666_7,
  /** Lambda requests, per million. */
  lambdaRequestMillion: 0.2,
  /** SQS standard queue, per million requests (each 64 KB chunk of a payload is a request). */
  sqsRequestMillion: 0.4,
  /** CloudWatch Logs ingestion (standard), per GB. */
  logsIngestionGb: 0.5,
} as const;

const PRICE_NOTE = `public prices, ${PRICES.region}, as of ${PRICES.asOf}`;

const CLIENTS = 1000;
/** Records per correlate invocation, as asked of the bench (infra's event source mapping may batch more). */
const BATCH = 10;
const WRITE_UNITS_PER_SYMPTOM_TARGET = 2;
const DOLLARS_PER_MILLION_TARGET = 2;
const KB = 1024;
const GIB = 1024 ** 3;
/** Lambda's text log format prefixes each line with `<ISO time>\t<request id>\t<LEVEL>\t`. */
const LAMBDA_LINE_PREFIX_BYTES = 24 + 1 + 36 + 1 + 4 + 1;
/** Lambda's own START, END and REPORT lines of one invocation (text format). */
const LAMBDA_PLATFORM_BYTES_PER_INVOCATION = 70 + 50 + 200;
/** SQS requests per event on the events queue: the agent's SendMessageBatch, then Lambda's receive and delete (10 per call). */
const SQS_REQUESTS_PER_EVENT = 1 + 1 / BATCH + 1 / BATCH;
/** A notify message: sent by correlate, received and deleted by notify's event source mapping. */
const SQS_REQUESTS_PER_NOTIFICATION = 3;

// ——————————————————————————————————————————————— dynalite in its own process

interface DynaliteProcess {
  readonly endpoint: string;
  client(): DynamoDBClient;
  stop(): Promise<void>;
}

const DYNALITE_SCRIPT = `
const server = require('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

const startDynaliteProcess = async (): Promise<DynaliteProcess> => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const child: ChildProcess = spawn(process.execPath, ['-e', DYNALITE_SCRIPT], {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stdout = child.stdout;
  if (stdout === null) throw new Error('dynalite has no stdout');
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    lines.once('line', (line) => resolve(Number(line)));
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: DynamoDBClient[] = [];
  return {
    endpoint,
    client: () => {
      const made = new DynamoDBClient({
        endpoint,
        region: PRICES.region,
        credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
        maxAttempts: 3,
      });
      clients.push(made);
      return made;
    },
    stop: async () => {
      for (const made of clients) made.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
};

// ——————————————————————————————————————————————— capacity, by DynamoDB's rules

type Attributes = Record<string, AttributeValue>;

/** An attribute value's size as DynamoDB counts it. */
const valueSize = (value: AttributeValue): number => {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, item) => sum + 1 + valueSize(item), 0);
  if (value.M !== undefined) return 3 + attributesSize(value.M, 1);
  if (value.SS !== undefined) return value.SS.reduce((sum, item) => sum + Buffer.byteLength(item), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, item) => sum + Math.ceil(item.length / 2) + 1, 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, item) => sum + item.byteLength, 0);
  return 0;
};

/** An item's size: each attribute's name and value (`perAttribute` more inside a map). */
const attributesSize = (item: Attributes, perAttribute = 0): number =>
  Object.entries(item).reduce(
    (sum, [name, value]) => sum + perAttribute + Buffer.byteLength(name) + valueSize(value),
    0,
  );

const writeUnits = (bytes: number): number => Math.max(1, Math.ceil(bytes / KB));

/** The same attributes and values, in any order. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner) && !ArrayBuffer.isView(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : 1)))
      : ArrayBuffer.isView(inner)
        ? Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength).toString('base64')
        : inner,
  );

const TABLE_KEYS = [STORE_TABLE.partitionKey.name, STORE_TABLE.sortKey.name];

/** Write units the GSIs take for one item going from `before` to `after` (either may be absent). */
const indexUnits = (before: Attributes | undefined, after: Attributes | undefined): number => {
  let units = 0;
  for (const index of STORE_TABLE.globalSecondaryIndexes) {
    const names = [index.partitionKey.name, index.sortKey.name];
    const keyOf = (item: Attributes | undefined): string | undefined =>
      item !== undefined && names.every((name) => item[name]?.S !== undefined)
        ? names.map((name) => item[name]?.S).join('\u0000')
        : undefined;
    const entrySize = (item: Attributes): number =>
      index.projectionType === 'ALL'
        ? attributesSize(item)
        : attributesSize(
            Object.fromEntries(
              [...TABLE_KEYS, ...names].flatMap((name) =>
                item[name] === undefined ? [] : [[name, item[name]]],
              ),
            ),
          );
    const oldKey = keyOf(before);
    const newKey = keyOf(after);
    if (oldKey === undefined && newKey === undefined) continue;
    if (oldKey !== undefined && before !== undefined && newKey === undefined)
      units += writeUnits(entrySize(before));
    else if (oldKey === undefined && after !== undefined) units += writeUnits(entrySize(after));
    else if (before !== undefined && after !== undefined) {
      if (oldKey !== newKey) units += writeUnits(entrySize(before)) + writeUnits(entrySize(after));
      else if (index.projectionType === 'ALL' && canonical(before) !== canonical(after))
        units += writeUnits(Math.max(entrySize(before), entrySize(after)));
    }
  }
  return units;
};

/** What an item is, from its key (dynamodb-table.ts). */
const itemKind = (key: Attributes): string => {
  const pk = key.pk?.S ?? '';
  const sk = key.sk?.S ?? '';
  const prefix = pk.split('#')[0] ?? pk;
  if (prefix === 'INCIDENT') {
    if (sk.startsWith('HOST#')) return 'affected-host row';
    if (sk.startsWith('TL#')) return 'timeline row';
    return 'incident';
  }
  const kinds: Record<string, string> = {
    CONTROL: 'control slice',
    DOMAIN: 'domain slice',
    HOST: 'host slice',
    DECISION: 'decision record',
    PLAN: 'plan',
    TOKEN: 'token',
    SERVER: 'host record',
    COLLECT: 'collect record',
  };
  return kinds[prefix] ?? prefix;
};

interface WriteCharge {
  readonly phase: string;
  readonly kind: string;
  readonly bytes: number;
  readonly tableUnits: number;
  readonly indexUnits: number;
  /** What dynalite reported for the table (none for a failed condition). */
  readonly reported: number | undefined;
  readonly failed: boolean;
}

interface ReadCharge {
  readonly phase: string;
  readonly operation: string;
  readonly units: number;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);

type Json = Record<string, unknown>;

const reportedUnits = (output: unknown): number => {
  const capacity = (output as { ConsumedCapacity?: unknown } | undefined)?.ConsumedCapacity;
  const all = Array.isArray(capacity) ? capacity : capacity === undefined ? [] : [capacity];
  return all.reduce((sum: number, one) => sum + ((one as { CapacityUnits?: number }).CapacityUnits ?? 0), 0);
};

/**
 * Meters every request a client sends to one table: asks for `ConsumedCapacity`, and charges
 * writes from the item before and after (read on `peek`, a client without the meter).
 */
class CapacityMeter {
  phase = 'setup';
  readonly writes: WriteCharge[] = [];
  readonly reads: ReadCharge[] = [];
  readonly requests = new Map<string, number>();

  constructor(
    private readonly peek: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  attach(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string>; body?: unknown };
        const operation = request.headers['x-amz-target']?.split('.')[1] ?? 'unknown';
        // The JSON protocol's body: text, or its UTF-8 bytes.
        const raw =
          typeof request.body === 'string'
            ? request.body
            : request.body instanceof Uint8Array
              ? Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength).toString(
                  'utf8',
                )
              : undefined;
        if (raw === undefined) throw new Error(`the cost bench cannot read the body of ${operation}`);
        const body = JSON.parse(raw) as Json;
        body.ReturnConsumedCapacity = 'TOTAL';
        const text = JSON.stringify(body);
        request.body = text;
        if (request.headers['content-length'] !== undefined)
          request.headers['content-length'] = String(Buffer.byteLength(text));
        const phase = this.phase;
        this.requests.set(phase, (this.requests.get(phase) ?? 0) + 1);
        if (READS.has(operation)) {
          const result = await next(args);
          const consistent = body.ConsistentRead === true;
          this.reads.push({
            phase,
            operation,
            units: Math.max(reportedUnits(result.output), consistent ? 1 : 0.5),
          });
          return result;
        }
        if (!WRITES.has(operation)) throw new Error(`the cost bench does not meter ${operation}`);
        const key = (operation === 'PutItem' ? (body.Item as Attributes) : (body.Key as Attributes)) ?? {};
        const itemKey = Object.fromEntries(TABLE_KEYS.map((name) => [name, key[name] as AttributeValue]));
        const before = await this.#read(itemKey);
        try {
          const result = await next(args);
          const after = await this.#read(itemKey);
          const bytes = Math.max(
            before === undefined ? 0 : attributesSize(before),
            after === undefined ? 0 : attributesSize(after),
          );
          this.writes.push({
            phase,
            kind: itemKind(itemKey),
            bytes: after === undefined ? 0 : attributesSize(after),
            tableUnits: writeUnits(bytes),
            indexUnits: indexUnits(before, after),
            reported: reportedUnits(result.output),
            failed: false,
          });
          return result;
        } catch (error) {
          if ((error as { name?: string }).name === 'ConditionalCheckFailedException') {
            const bytes = before === undefined ? 0 : attributesSize(before);
            this.writes.push({
              phase,
              kind: itemKind(itemKey),
              bytes,
              tableUnits: writeUnits(bytes),
              indexUnits: 0,
              reported: undefined,
              failed: true,
            });
          }
          throw error;
        }
      },
      { step: 'build', name: 'benchCapacityMeter', priority: 'high' },
    );
  }

  async #read(key: Attributes): Promise<Attributes | undefined> {
    const answer = await this.peek.send(
      new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return answer.Item;
  }
}

// ——————————————————————————————————————————————— the storm on correlate

/**
 * The phases the storm is applied in: the clients' first heartbeats, their symptoms, the IPL, the
 * stability tick (sweep sends the canary), then `STEADY_CLIENTS` clients heartbeat twice more, as
 * agents do every minute: the second round (`steady`) changes nothing a heartbeat could change.
 */
const PHASES = ['heartbeat', 'symptom', 'ipl', 'stable', 'reheartbeat', 'steady'] as const;
type Phase = (typeof PHASES)[number];
/** Clients whose steady heartbeats are measured. */
const STEADY_CLIENTS = 250;
const HEARTBEAT_SECONDS = 60;

/** SQS's `SenderId` for an agent sending straight to the queue under its IAM Roles Anywhere session. */
const AGENT_ROLE_ID = 'AROABENCHAGENTROLE';

/** An agent's event as SQS hands it to correlate when the agent sent it straight to the queue. */
const directRecord = (event: FaultlineEvent, messageId: string, sentAt: number) =>
  queueRecord(event, { messageId, sentAt, senderId: `${AGENT_ROLE_ID}:${event.hostid}` });

interface PhaseFigures {
  events: number;
  invocations: number;
  wallMs: number;
  cpuMs: number;
  logBytes: number;
  logLines: number;
  notifications: number;
  signatures: number;
}

const emptyFigures = (): PhaseFigures => ({
  events: 0,
  invocations: 0,
  wallMs: 0,
  cpuMs: 0,
  logBytes: 0,
  logLines: 0,
  notifications: 0,
  signatures: 0,
});

/** Runs `work` with what it writes to stdout and stderr counted instead of printed. */
const capturingOutput = async (work: () => Promise<unknown>): Promise<{ bytes: number; lines: number }> => {
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  let bytes = 0;
  let lines = 0;
  const counter = (chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    bytes += Buffer.byteLength(text);
    lines += text.split('\n').length - 1;
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  };
  for (const stream of streams) stream.write = counter as typeof stream.write;
  try {
    await work();
    return { bytes, lines };
  } finally {
    streams.forEach((stream, index) => {
      stream.write = writes[index] as typeof stream.write;
    });
  }
};

interface StormRun {
  readonly phases: Record<Phase, PhaseFigures>;
  readonly meter: CapacityMeter | undefined;
}

/** The storm applied by correlate on a fresh table; with `metered`, every request's units charged. */
const runStorm = async (dynamo: DynaliteProcess, dataDir: string, metered: boolean): Promise<StormRun> => {
  const tableName = `faultline-bench-cost-${metered ? 'metered' : 'timed'}`;
  await createStoreTable(dynamo.client(), tableName);
  const client = dynamo.client();
  const meter = metered ? new CapacityMeter(dynamo.client(), tableName) : undefined;
  meter?.attach(client);
  let clock = Date.parse(at(0));
  const store = new DynamoDbStore({ client, tableName, clock: () => clock });
  // vios2 is a registered server: its heartbeats and its IPL are judged against this grant.
  await store.putHostRecord({
    hostId: 'vios2',
    role: 'hosting',
    serves: [failureDomainOf('vios2')],
    registeredAt: at(0),
    registeredBy: 'bench',
  });
  const phases = Object.fromEntries(PHASES.map((phase) => [phase, emptyFigures()])) as Record<
    Phase,
    PhaseFigures
  >;
  let current: PhaseFigures = phases.heartbeat;
  const enter = (phase: Phase): void => {
    current = phases[phase];
    if (meter !== undefined) meter.phase = phase;
  };
  const local = new LocalPlanSigner({ dataDir: join(dataDir, metered ? 'metered' : 'timed') });
  const signer = {
    sign: (plan: Parameters<LocalPlanSigner['sign']>[0]) => {
      current.signatures += 1;
      return local.sign(plan);
    },
    signLines: (lines: string) => {
      current.signatures += 1;
      return local.signLines(lines);
    },
    publicKeyPem: () => local.publicKeyPem(),
  };
  const notifyQueue = {
    send: async (_message: OutgoingMessage) => {
      current.notifications += 1;
      return { messageId: `n${current.notifications}` };
    },
  };
  const deadLetterQueue = {
    send: async (message: OutgoingMessage): Promise<{ messageId: string }> => {
      throw new Error(`correlate dead-lettered a storm record: ${message.body.slice(0, 200)}`);
    },
  };
  const core = DEFAULT_CORE_CONFIG;
  // The handlers as on Lambda: no log function passed, so they print their JSON lines to stdout.
  const correlate = createCorrelate({
    settings: { ...correlateSettings(core), maxReceiveCount: 5, tickLimit: 100 },
    store,
    signer,
    notifyQueue,
    deadLetterQueue,
    sourceQueue: 'events',
    clock: () => clock,
  });
  const sweep = createSweep({
    settings: { core, graceSeconds: 60, finishLimit: 500, tickLimit: 1000 },
    store,
    signer,
    notifyQueue,
    clock: () => clock,
  });

  const invoke = async (work: () => Promise<unknown>): Promise<void> => {
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const { bytes, lines } = await capturingOutput(work);
    current.wallMs += Number(process.hrtime.bigint() - started) / 1e6;
    const used = process.cpuUsage(cpu);
    current.cpuMs += (used.user + used.system) / 1000;
    current.logBytes += bytes;
    current.logLines += lines;
    current.invocations += 1;
  };
  let messages = 0;
  const deliver = async (phase: Phase, events: readonly FaultlineEvent[]): Promise<void> => {
    enter(phase);
    for (let index = 0; index < events.length; index += BATCH) {
      const batch = events.slice(index, index + BATCH);
      clock = Date.parse(batch[batch.length - 1]?.time ?? at(0));
      const records = batch.map((event) => {
        messages += 1;
        return directRecord(event, `msg-${messages}`, clock);
      });
      let failures = 0;
      await invoke(async () => {
        failures = (await correlate({ Records: records })).batchItemFailures.length;
      });
      if (failures > 0) throw new Error(`correlate failed ${failures} records of a ${phase} batch`);
      current.events += batch.length;
    }
  };

  const storm = stormEvents(CLIENTS);
  await deliver(
    'heartbeat',
    storm.filter((event) => event.type === 'host.heartbeat'),
  );
  await deliver(
    'symptom',
    storm.filter((event) => event.type === 'mirror.degraded'),
  );
  await deliver(
    'ipl',
    storm.filter((event) => event.type === 'ipl.completed'),
  );
  const [domain] = await store.getSlices([{ kind: 'domain', id: failureDomainOf('vios2') }]);
  const episode = (domain?.value as DomainSlice | undefined)?.episode;
  if (episode?.dispatchAt === undefined || episode.unhealthy !== CLIENTS) {
    throw new Error(`the storm should leave vios2 up with ${CLIENTS} hosts counted`);
  }
  // The stability tick: sweep at the end of the stability period sends the canary.
  enter('stable');
  const stableAt = Date.parse(episode.dispatchAt);
  clock = stableAt;
  await invoke(() => sweep());
  if (current.signatures === 0) throw new Error('the stability tick sent no canary');
  // Agents heartbeat every minute, their root mirror still degraded while they wait for their plan.
  const agents = stormAgents(STEADY_CLIENTS);
  const round = (seconds: number): FaultlineEvent[] =>
    agents.map((agent) =>
      agent.heartbeat(new Date(stableAt + seconds * 1000).toISOString(), { faulty: 'fall' }),
    );
  await deliver('reheartbeat', round(HEARTBEAT_SECONDS / 2));
  await deliver('steady', round(HEARTBEAT_SECONDS / 2 + HEARTBEAT_SECONDS));
  return { phases, meter };
};

interface Measured {
  readonly metered: StormRun;
  readonly timed: StormRun;
}

/** Two runs of the storm on one dynalite: one metered (units), one as on Lambda (time and logs). */
const measureCost = async (): Promise<Measured> => {
  const dataDir = await mkdtemp(join(tmpdir(), 'faultline-bench-cost-'));
  const dynamo = await startDynaliteProcess();
  try {
    const metered = await runStorm(dynamo, dataDir, true);
    const timed = await runStorm(dynamo, dataDir, false);
    return { metered, timed };
  } finally {
    await dynamo.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
};

// ——————————————————————————————————————————————— figures and rows

interface PhaseCost {
  readonly events: number;
  readonly tableUnits: number;
  readonly indexUnits: number;
  readonly reportedUnits: number;
  readonly readUnits: number;
  readonly requests: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly logBytes: number;
  readonly sqsRequests: number;
  readonly dollars: {
    readonly dynamoDb: number;
    readonly lambda: number;
    readonly sqs: number;
    readonly logs: number;
  };
  /** Write units by item kind: units, writes and bytes written, per event. */
  readonly byItem: { kind: string; units: number; writes: number; averageBytes: number }[];
}

const MILLION = 1_000_000;
const LAMBDA_GB = FUNCTION_SIZING.correlate.memoryMiB / 1024;

/** Every figure of one phase, per event. */
const phaseCost = (measured: Measured, phase: Phase): PhaseCost => {
  const meter = measured.metered.meter;
  if (meter === undefined) throw new Error('the metered run has no meter');
  const timed = measured.timed.phases[phase];
  const events = measured.metered.phases[phase].events;
  if (events === 0 || timed.events !== events)
    throw new Error(`phase ${phase}: ${events} vs ${timed.events} events`);
  const writes = meter.writes.filter((write) => write.phase === phase);
  const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);
  const tableUnits = sum(writes.map((write) => write.tableUnits)) / events;
  const indexUnits = sum(writes.map((write) => write.indexUnits)) / events;
  const readUnits =
    sum(meter.reads.filter((read) => read.phase === phase).map((read) => read.units)) / events;
  const wallMs = timed.wallMs / events;
  const logBytes =
    (timed.logBytes +
      timed.logLines * LAMBDA_LINE_PREFIX_BYTES +
      timed.invocations * LAMBDA_PLATFORM_BYTES_PER_INVOCATION) /
    events;
  const sqsRequests = SQS_REQUESTS_PER_EVENT + (timed.notifications * SQS_REQUESTS_PER_NOTIFICATION) / events;
  const kinds = [...new Set(writes.map((write) => write.kind))];
  const byItem = kinds
    .map((kind) => {
      const ofKind = writes.filter((write) => write.kind === kind);
      return {
        kind,
        units: sum(ofKind.map((write) => write.tableUnits + write.indexUnits)) / events,
        writes: ofKind.length / events,
        averageBytes: sum(ofKind.map((write) => write.bytes)) / ofKind.length,
      };
    })
    .sort((a, b) => b.units - a.units);
  return {
    events,
    tableUnits,
    indexUnits,
    reportedUnits: sum(writes.map((write) => write.reported ?? 0)) / events,
    readUnits,
    requests: (meter.requests.get(phase) ?? 0) / events,
    wallMs,
    cpuMs: timed.cpuMs / events,
    logBytes,
    sqsRequests,
    dollars: {
      dynamoDb:
        (tableUnits + indexUnits) * PRICES.dynamoDbWriteUnitMillion +
        readUnits * PRICES.dynamoDbReadUnitMillion,
      lambda:
        (wallMs / 1000) * LAMBDA_GB * PRICES.lambdaGbSecond * MILLION +
        (timed.invocations / events) * PRICES.lambdaRequestMillion,
      sqs: sqsRequests * PRICES.sqsRequestMillion,
      logs: ((logBytes * MILLION) / GIB) * PRICES.logsIngestionGb,
    },
    byItem,
  };
};

const units = (value: number): string => count(value, 1);
const dollars = (value: number): string => `$${count(value, 2)}`;
const totalDollars = (cost: PhaseCost): number =>
  cost.dollars.dynamoDb + cost.dollars.lambda + cost.dollars.sqs + cost.dollars.logs;

const LABELS: Record<'symptom' | 'heartbeat' | 'steady', string> = {
  symptom: 'symptom event (mirror.degraded and all it sets off)',
  heartbeat: "host's first heartbeat",
  steady: 'steady heartbeat (every minute, nothing new)',
};

/** Section 6: what an event costs on AWS. */
export const costSection = async (): Promise<BenchRow[]> => {
  const measured = await measureCost();
  const costs = {
    symptom: phaseCost(measured, 'symptom'),
    heartbeat: phaseCost(measured, 'heartbeat'),
    steady: phaseCost(measured, 'steady'),
  };
  const storm = `${count(CLIENTS)}-client storm through correlate on dynalite`;
  const rows: BenchRow[] = [];
  for (const phase of ['symptom', 'heartbeat', 'steady'] as const) {
    const cost = costs[phase];
    const written = cost.tableUnits + cost.indexUnits;
    rows.push({
      section: 'cost',
      what: `DynamoDB write units per ${LABELS[phase]}, ${storm} (sizes by DynamoDB's rules, GSIs included)`,
      figure: `${units(written)} WCU (table ${units(cost.tableUnits)} + GSIs ${units(cost.indexUnits)})`,
      peer: `dynalite's own count of the table's share: ${units(cost.reportedUnits)}`,
      target: `≤ ${WRITE_UNITS_PER_SYMPTOM_TARGET} ${underMark(written, WRITE_UNITS_PER_SYMPTOM_TARGET)}`,
    });
    if (phase === 'symptom' || written > WRITE_UNITS_PER_SYMPTOM_TARGET) {
      rows.push({
        section: 'cost',
        what: `where the write units of a ${phase === 'symptom' ? 'symptom' : LABELS[phase].split(' (')[0]} go: item, units (writes, average size)`,
        figure: cost.byItem
          // What rounds to nothing per event (the table's index-layout mark, written once) is left out.
          .filter((item) => units(item.units) !== units(0))
          .map(
            (item) =>
              `${item.kind} ${units(item.units)} (${units(item.writes)} × ${count(item.averageBytes / KB, 1)} KB)`,
          )
          .join('; '),
        peer: '—',
        target: '—',
      });
    }
  }
  rows.push({
    section: 'cost',
    what: 'DynamoDB read units per event (4 KB per unit, halved for GSI and eventually consistent reads)',
    figure: (['symptom', 'heartbeat', 'steady'] as const)
      .map((phase) => `${phase} ${units(costs[phase].readUnits)} RCU`)
      .join(', '),
    peer: '—',
    target: '—',
  });
  rows.push({
    section: 'cost',
    what: `correlate (Lambda, ${FUNCTION_SIZING.correlate.memoryMiB} MB) per event, in-process over batches of ${BATCH}: wall ms (CPU ms, DynamoDB requests on loopback)`,
    figure: (['symptom', 'heartbeat', 'steady'] as const)
      .map(
        (phase) =>
          `${phase} ${count(costs[phase].wallMs, 1)} ms (${count(costs[phase].cpuMs, 1)}, ${units(costs[phase].requests)} req)`,
      )
      .join(', '),
    peer: '—',
    target: '—',
  });
  rows.push({
    section: 'cost',
    what: "log bytes per event (the handler's JSON lines, Lambda's text prefix on each, START/END/REPORT per invocation)",
    figure: (['symptom', 'heartbeat', 'steady'] as const)
      .map((phase) => `${phase} ${count(costs[phase].logBytes)} B`)
      .join(', '),
    peer: '—',
    target: '—',
  });
  for (const phase of ['symptom', 'steady'] as const) {
    const cost = costs[phase];
    const total = totalDollars(cost);
    rows.push({
      section: 'cost',
      what: `AWS $ per million ${phase === 'symptom' ? 'symptom events' : 'steady heartbeats'} (${PRICE_NOTE}: DynamoDB on-demand, Lambda, SQS, CloudWatch Logs)`,
      figure: `${dollars(total)} (DynamoDB ${dollars(cost.dollars.dynamoDb)}, Lambda ${dollars(cost.dollars.lambda)}, SQS ${dollars(cost.dollars.sqs)}, logs ${dollars(cost.dollars.logs)})`,
      peer: '—',
      target: `≤ $${DOLLARS_PER_MILLION_TARGET} ${underMark(total, DOLLARS_PER_MILLION_TARGET)}`,
    });
  }
  return rows;
};
