import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { QUEUES } from '../../local/control-plane.ts';
import type { Random } from './core-fleet.ts';

/**
 * What the fault-injection test (test/local/fault-injection.test.ts, issue #16) does to a running
 * `faultline up` from the outside, without touching the product:
 *
 * - **The network between the agents and the control plane** (`FaultyNetwork`): an HTTP proxy on
 *   127.0.0.1 that the simulated agents use as their control plane's URL. Plan polls and every other
 *   request pass through unchanged. `POST /v1/events` is where the faults are: each batch is cut into
 *   chunks of one to three events, held, and released with every chunk of every host held in the
 *   same window, all at once in a shuffled order (reordering within a window, within one host and
 *   across hosts, in bursts, as a batching window gathers them); each chunk is sent a second time
 *   later, in a later window, after later batches of the same host (a duplicate delivered late, as
 *   a redelivery is). The agent gets 202 only when the control plane took every event of its batch;
 *   otherwise 503, and the agent sends the whole batch again from its spool, as it does after a
 *   crash. Every event the control plane answered 202 for is recorded: those must all be applied.
 * - **What a crash left** (`lookAtQueues`): the events and notify queues of `queues.db` read from
 *   the side, read-only: how many messages wait, and which were received by a consumer and not yet
 *   deleted (a batch in flight).
 * - **A SIGKILL in the middle of a correlate batch** (`killMidBatch`): SIGSTOP the control plane,
 *   look at its queues, and SIGKILL it when a correlate batch is in flight (received, not deleted)
 *   and no notification is being delivered (a crash after PagerDuty answered and before the
 *   delivery is recorded sends that page again, as functions/notify/delivery-log.ts says: not what
 *   is tested here); else SIGCONT and look again a few milliseconds later.
 */

/** What the network does to `POST /v1/events`. */
export type NetworkFaults = {
  /** Chunks are held and released together, in a shuffled order, once per window of this many ms. */
  readonly reorderWindowMs: number;
  /** Each chunk is sent again in the background, in the first window after up to this many ms. */
  readonly lateDuplicateMs: number;
};

/** An event the control plane answered 202 for. */
export type AckedEvent = { hostId: string; id: string; type: string; bootid: string; seq: number };

/** An event the control plane refused (400, or by index in a 202): never expected in a storm. */
export type RefusedEvent = { hostId: string; id: string; type: string; issues: unknown };

type CloudEvent = { id?: unknown; hostid?: unknown; type?: unknown; bootid?: unknown; seq?: unknown };

type Forwarded = { status: number; contentType: string; body: string };

/** One copy of a chunk sent: which of its events the control plane took, and which it refused. */
type ChunkAnswer = {
  ok: boolean;
  accepted: Set<string>;
  refused: { index: number; issues: unknown }[];
  plansPending: boolean;
};

const REQUEST_TIMEOUT_MS = 30_000;
/** Chunks of a batch are one to this many events. */
const MAX_CHUNK = 3;
const HEADERS_PASSED = ['authorization', 'content-type', 'accept', 'user-agent'] as const;

const readBody = (request: IncomingMessage): Promise<Buffer> =>
  new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('end', () => done(Buffer.concat(chunks)));
    request.once('error', fail);
  });

const unavailable = (message: string): Forwarded => ({
  status: 503,
  contentType: 'application/json',
  body: JSON.stringify({ error: { code: 'unavailable', message } }),
});

const shuffled = <T>(items: readonly T[], rng: Random): T[] => {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = rng.int(0, index);
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
};

const keyOf = (hostId: string, id: string): string => `${hostId} ${id}`;

export class FaultyNetwork {
  /** Every event the control plane answered 202 for, by `<host> <event id>`. */
  readonly acked = new Map<string, AckedEvent>();
  /** Every event the control plane refused. */
  readonly refused: RefusedEvent[] = [];
  /** Copies of event chunks sent to the control plane and not yet answered. */
  inFlight = 0;
  /**
   * Event copies sent (late duplicates and agents' resends included), chunks sent a second time,
   * and agents' batches answered 503 (sent again by the agent).
   */
  readonly counts = { copies: 0, lateDuplicates: 0, batchesFailed: 0 };
  readonly #server: Server;
  readonly #target: string;
  readonly #faults: NetworkFaults | undefined;
  readonly #rng: Random;
  readonly #background = new Set<Promise<void>>();
  /** The chunks held in the current window: each released when the window closes. */
  #held: (() => void)[] = [];
  readonly #windows: NodeJS.Timeout | undefined;

  private constructor(server: Server, target: string, faults: NetworkFaults | undefined, rng: Random) {
    this.#server = server;
    this.#target = target;
    this.#faults = faults;
    this.#rng = rng;
    this.#windows =
      faults === undefined ? undefined : setInterval(() => this.releaseWindow(), faults.reorderWindowMs);
    this.#windows?.unref();
  }

  /** Releases every chunk held in the window that closes, in a shuffled order. */
  private releaseWindow(): void {
    const held = this.#held;
    this.#held = [];
    for (const release of shuffled(held, this.#rng)) release();
  }

  /** Holds a chunk until the current window closes. */
  private nextWindow(): Promise<void> {
    return new Promise((release) => this.#held.push(release));
  }

  /**
   * The network in front of the control plane at `target` (its port stays the same across
   * restarts); with no `faults`, every request passes through unchanged (the clean run).
   */
  static async start(target: string, faults: NetworkFaults | undefined, rng: Random): Promise<FaultyNetwork> {
    let network: FaultyNetwork | undefined;
    const server = createServer((request, response) => {
      network?.handle(request, response).catch((error: Error) => {
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
        response.end(error.message);
      });
    });
    network = new FaultyNetwork(server, target, faults, rng);
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    return network;
  }

  /** What the agents use as their control plane's URL. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The acked events of a type. */
  ackedOf(type: string): AckedEvent[] {
    return [...this.acked.values()].filter((event) => event.type === type);
  }

  /** Waits until every late duplicate has been sent. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }

  /** Closes the network now (late copies still held are released, and land or fail on their own). */
  async close(): Promise<void> {
    clearInterval(this.#windows);
    this.releaseWindow();
    this.#server.closeAllConnections();
    await new Promise<void>((done) => this.#server.close(() => done()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const headers: Record<string, string> = {};
    for (const name of HEADERS_PASSED) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const path = request.url ?? '/';
    const method = request.method ?? 'GET';
    const answer =
      method === 'POST' && path === '/v1/events'
        ? await this.events(headers, body)
        : await this.forward(method, path, headers, body.length === 0 ? undefined : body);
    response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
  }

  private async forward(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | string | undefined,
  ): Promise<Forwarded> {
    try {
      const answer = await fetch(`${this.#target}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      return {
        status: answer.status,
        contentType: answer.headers.get('content-type') ?? 'application/json',
        body: await answer.text(),
      };
    } catch (error) {
      return unavailable(`the control plane did not answer: ${(error as Error).message}`);
    }
  }

  /** `POST /v1/events`: passed through in the clean run; cut, shuffled, delayed and duplicated otherwise. */
  private async events(headers: Record<string, string>, body: Buffer): Promise<Forwarded> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return this.forward('POST', '/v1/events', headers, body);
    }
    const events = (Array.isArray(parsed) ? parsed : [parsed]) as CloudEvent[];
    const indexed = events.map((event, index) => ({ event, index }));
    const faults = this.#faults;
    if (faults === undefined) {
      const answer = await this.sendChunk(headers, indexed);
      return answer.ok
        ? this.answerOf(indexed, [answer])
        : unavailable('the control plane refused the batch');
    }
    const order = shuffled(indexed, this.#rng);
    const chunks: (typeof indexed)[] = [];
    while (order.length > 0) chunks.push(order.splice(0, this.#rng.int(1, MAX_CHUNK)));
    for (const chunk of chunks) {
      const late = this.#rng.int(0, faults.lateDuplicateMs);
      const copy = (async () => {
        await delay(late);
        await this.nextWindow();
        this.counts.lateDuplicates += 1;
        await this.sendChunk(headers, chunk);
      })();
      this.#background.add(copy);
      void copy.finally(() => this.#background.delete(copy));
    }
    const answers = await Promise.all(
      chunks.map(async (chunk) => {
        await this.nextWindow();
        return this.sendChunk(headers, chunk);
      }),
    );
    if (answers.some((answer) => !answer.ok)) {
      this.counts.batchesFailed += 1;
      return unavailable('fault injection: the control plane did not take every event of the batch');
    }
    return this.answerOf(indexed, answers);
  }

  /** The answer an agent gets for its batch, from what the control plane said of each chunk. */
  private answerOf(
    indexed: readonly { event: CloudEvent; index: number }[],
    answers: ChunkAnswer[],
  ): Forwarded {
    const accepted = new Set(answers.flatMap((answer) => [...answer.accepted]));
    const refused = answers.flatMap((answer) => answer.refused).sort((a, b) => a.index - b.index);
    const ids = indexed.flatMap(({ event }) =>
      typeof event.id === 'string' && accepted.has(event.id) ? [event.id] : [],
    );
    if (ids.length === 0) {
      return {
        status: 400,
        contentType: 'application/json',
        body: JSON.stringify({
          error: { code: 'invalid-events', message: 'no event of the batch was accepted', issues: [] },
        }),
      };
    }
    return {
      status: 202,
      contentType: 'application/json',
      body: JSON.stringify({
        accepted: ids,
        rejected: refused,
        plansPending: answers.some((answer) => answer.plansPending),
      }),
    };
  }

  /** Sends one chunk (its events in order) and records what the control plane took. */
  private async sendChunk(
    headers: Record<string, string>,
    chunk: readonly { event: CloudEvent; index: number }[],
  ): Promise<ChunkAnswer> {
    this.inFlight += 1;
    this.counts.copies += chunk.length;
    let answer: Forwarded;
    try {
      answer = await this.forward(
        'POST',
        '/v1/events',
        headers,
        JSON.stringify(chunk.map(({ event }) => event)),
      );
    } finally {
      this.inFlight -= 1;
    }
    const failed: ChunkAnswer = { ok: false, accepted: new Set(), refused: [], plansPending: false };
    if (answer.status !== 202 && answer.status !== 400) return failed;
    let parsed: {
      accepted?: string[];
      rejected?: { index: number; issues: unknown }[];
      plansPending?: unknown;
      error?: { issues?: unknown };
    };
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      return failed;
    }
    const describe = (event: CloudEvent) => ({
      hostId: String(event.hostid),
      id: String(event.id),
      type: String(event.type),
    });
    if (answer.status === 400) {
      const refused = chunk.map(({ index }) => ({ index, issues: parsed.error?.issues ?? [] }));
      for (const { event } of chunk) this.refused.push({ ...describe(event), issues: parsed.error?.issues });
      return { ok: true, accepted: new Set(), refused, plansPending: false };
    }
    const accepted = new Set(parsed.accepted ?? []);
    for (const { event } of chunk) {
      if (typeof event.id !== 'string' || !accepted.has(event.id)) continue;
      this.acked.set(keyOf(String(event.hostid), event.id), {
        ...describe(event),
        bootid: String(event.bootid),
        seq: Number(event.seq),
      });
    }
    const refused = (parsed.rejected ?? []).flatMap((entry) => {
      const original = chunk[entry.index];
      if (original === undefined) return [];
      this.refused.push({ ...describe(original.event), issues: entry.issues });
      return [{ index: original.index, issues: entry.issues }];
    });
    return {
      ok: true,
      accepted,
      refused,
      plansPending: parsed.plansPending === true || Number(parsed.plansPending) > 0,
    };
  }
}

/** A message on a queue: its id, how often it was received, and the event it carries (when one). */
export type QueuedMessage = {
  messageId: string;
  receiveCount: number;
  event: { hostId: string; id: string; type: string } | undefined;
};

/** The queues of a data folder's `queues.db` at one moment. */
export type QueueLook = {
  events: { waiting: number; inFlight: QueuedMessage[] };
  notify: { waiting: number; inFlight: QueuedMessage[] };
  eventsDeadLetter: QueuedMessage[];
  notifyDeadLetter: QueuedMessage[];
};

type MessageRow = { message_id: string; body: string; receive_count: number; visible_at: number };

const messageOf = (row: MessageRow): QueuedMessage => {
  let event: QueuedMessage['event'];
  try {
    const body = JSON.parse(row.body) as CloudEvent;
    if (typeof body.hostid === 'string' && typeof body.id === 'string')
      event = { hostId: body.hostid, id: body.id, type: String(body.type) };
  } catch {
    event = undefined;
  }
  return { messageId: row.message_id, receiveCount: row.receive_count, event };
};

/**
 * Reads `queues.db` read-only. A message in flight was received by a consumer and is hidden until
 * its visibility timeout: its batch has not deleted it yet.
 */
export const lookAtQueues = (queuesFile: string, now = Date.now()): QueueLook => {
  const db = new Database(queuesFile, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare<[string], MessageRow>(
      'SELECT message_id, body, receive_count, visible_at FROM work_queue_messages WHERE queue = ?',
    );
    const queue = (name: string) => {
      const all = rows.all(name);
      return {
        waiting: all.length,
        inFlight: all.filter((row) => row.receive_count > 0 && row.visible_at > now).map(messageOf),
      };
    };
    return {
      events: queue(QUEUES.events),
      notify: queue(QUEUES.notify),
      eventsDeadLetter: rows.all(QUEUES.eventsDeadLetter).map(messageOf),
      notifyDeadLetter: rows.all(QUEUES.notifyDeadLetter).map(messageOf),
    };
  } finally {
    db.close();
  }
};

/** What a SIGKILL cut off. */
export type KillReport = {
  /** Whether the kill landed while a correlate batch was in flight. */
  midBatch: boolean;
  /** The events queue's messages in flight when the process died (read after its death). */
  inFlight: QueuedMessage[];
  /** Event POSTs the stopped process had not answered when it died: cut off, sent again by their agents. */
  postsInFlight: number;
  /** How many looks it took. */
  looks: number;
};

const isStopped = (pid: number): boolean => {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  const text = readFileSync(stat, 'utf8');
  // The state follows the command name in parentheses, which may itself hold spaces.
  return /^[tT]$/.test(text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3));
};

/** How long a stopped control plane's answers already on their way take to be read. */
const ANSWERS_SETTLE_MS = 20;

const waitStopped = async (pid: number): Promise<void> => {
  for (let tries = 0; tries < 200 && !isStopped(pid); tries += 1) await delay(1);
};

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((done) => child.once('exit', () => done()));

/**
 * SIGKILLs `child` (a `faultline up` whose queues are `queuesFile`) in the middle of a correlate
 * batch, once `ready()` says the moment has come (POSTs in flight, the first plans out...). It
 * stops the process, looks at its queues, and kills it if a correlate batch is in flight and no
 * notification is (and, with `cutPosts`, an event POST is waiting for its answer); otherwise lets
 * it run a few ms and looks again. For `preferSeconds` after the cue first held, it waits for a
 * batch of several messages (more cut off at once); then one will do. Past `seconds` it kills
 * anyway (the report says whether it was mid-batch).
 */
export const killMidBatch = async (options: {
  child: ChildProcess;
  queuesFile: string;
  network: FaultyNetwork;
  ready: () => boolean;
  rng: Random;
  seconds: number;
  preferSeconds: number;
  cutPosts: boolean;
}): Promise<KillReport> => {
  const { child, queuesFile, network, rng } = options;
  const pid = child.pid;
  if (pid === undefined) throw new Error('the control plane has no pid');
  const deadline = Date.now() + options.seconds * 1000;
  let looks = 0;
  let cuedAt: number | undefined;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the control plane exited on its own (${child.exitCode ?? child.signalCode})`);
    const late = Date.now() > deadline;
    if (!options.ready() && !late) {
      await delay(5);
      continue;
    }
    cuedAt ??= Date.now();
    const wanted = Date.now() - cuedAt < options.preferSeconds * 1000 ? 2 : 1;
    process.kill(pid, 'SIGSTOP');
    let killed = false;
    try {
      await waitStopped(pid);
      // Answers it sent before it stopped are read meanwhile: what is still in flight after is cut.
      await delay(ANSWERS_SETTLE_MS);
      looks += 1;
      const look = lookAtQueues(queuesFile);
      const postsInFlight = network.inFlight;
      if (
        late ||
        (look.events.inFlight.length >= wanted &&
          look.notify.inFlight.length === 0 &&
          (!options.cutPosts || postsInFlight > 0))
      ) {
        process.kill(pid, 'SIGKILL');
        killed = true;
        await exited(child);
        // After its death: what it left in flight is what comes back after the visibility timeout.
        const after = lookAtQueues(queuesFile);
        return {
          midBatch: after.events.inFlight.length > 0,
          inFlight: after.events.inFlight,
          postsInFlight,
          looks,
        };
      }
    } finally {
      if (!killed) process.kill(pid, 'SIGCONT');
    }
    await delay(rng.int(1, 8));
  }
};
