import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { type Issue, LIMITS, retryAfterMs } from '../../events/index.ts';
import type { ResolvedApiTarget } from '../config.ts';
import { AGENT_VERSION } from '../detect/heartbeat.ts';
import type { AgentLog } from '../state/agent-log.ts';
import { allFailed, type EventPublisher, type PublishReport, type RejectedEvent } from './event-publisher.ts';
import type { OutboundEvent } from './outbound-event.ts';
import type { Transport } from './proxy-tunnel.ts';

/**
 * Publishing to the control plane's `POST /v1/events` (§6) with the host's agent token: a JSON
 * array of CloudEvents per request, within the limits of §3. A 202 says which events were
 * accepted and which rejected (by index, with their issues); a 400 rejects them all. Rejected
 * events are logged with their issues and dropped: sending them again cannot succeed. A 5xx, a
 * network error, a timeout, 408, 425 and 429 leave the events in the spool to be tried again, and
 * so do 401, 403 and 404: they mean this host's token or URL is wrong, which an operator fixes
 * without the events being at fault, so dropping them would lose faults for a typo. A 429 (the
 * control plane's per-token rate limit) or 503 carries `Retry-After`: the report passes it on, and
 * delivery waits at least that long before the next attempt (./delivery.ts).
 */

/** Answers that leave the events in the spool. */
const RETRYABLE_CLIENT_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 408, 425, 429]);

/** What one request may carry: §3's limits less the brackets and commas of the array. */
const HTTP_EVENTS_PER_REQUEST = LIMITS.maxBatchEvents;
const HTTP_BYTES_PER_REQUEST = LIMITS.maxBatchBytes - LIMITS.maxBatchEvents - 2;
/** Error bodies are read up to this size; beyond is not a Faultline answer. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

const IssueShape = z.object({
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
  code: z.string().optional(),
});

const AcceptedAnswer = z.object({
  accepted: z.array(z.string()),
  rejected: z.array(z.object({ index: z.int().min(0), issues: z.array(IssueShape) })).default([]),
  plansPending: z.union([z.boolean(), z.number()]).optional(),
});

const ErrorAnswer = z.object({
  error: z.object({ code: z.string(), message: z.string(), issues: z.array(IssueShape).optional() }),
});

export type HttpPublisherOptions = {
  target: ResolvedApiTarget;
  transport: Transport;
  requestTimeoutMs: number;
  log: AgentLog;
};

type Answer = { status: number; body: string; retryAfter?: string | undefined };

export class HttpEventPublisher implements EventPublisher {
  readonly target: string;
  readonly limits = { maxEvents: HTTP_EVENTS_PER_REQUEST, maxBytes: HTTP_BYTES_PER_REQUEST };
  private readonly endpoint: URL;

  constructor(private readonly options: HttpPublisherOptions) {
    this.endpoint = new URL(
      'v1/events',
      options.target.url.endsWith('/') ? options.target.url : `${options.target.url}/`,
    );
    this.target = `api ${this.endpoint.href}`;
  }

  async publish(events: readonly OutboundEvent[]): Promise<PublishReport> {
    if (events.length === 0) return { delivered: [], rejected: [], failed: [] };
    let answer: Answer;
    try {
      answer = await this.post(`[${events.map((event) => event.body).join(',')}]`);
    } catch (error) {
      return allFailed(events, `POST ${this.endpoint.href}: ${(error as Error).message}`);
    }
    return this.interpret(events, answer);
  }

  close(): void {
    // The transport's agents are shared and closed by their owner.
  }

  private interpret(events: readonly OutboundEvent[], answer: Answer): PublishReport {
    const { status } = answer;
    if (status === 200 || status === 202) return this.accepted(events, answer.body);
    const error = parseJson(answer.body, ErrorAnswer);
    const reason = `${status}${error === undefined ? '' : ` ${error.error.code}: ${error.error.message}`}`;
    if (status >= 500 || RETRYABLE_CLIENT_STATUSES.has(status)) {
      if (status === 401 || status === 403) {
        this.options.log.error('the API refused the agent token; events stay spooled until it is fixed', {
          status,
        });
      }
      const wait = retryAfterMs(answer.retryAfter, Date.now());
      return { ...allFailed(events, reason), ...(wait === undefined ? {} : { retryAfterMs: wait }) };
    }
    if (status >= 400) {
      return { delivered: [], rejected: rejectAll(events, reason, error?.error.issues ?? []), failed: [] };
    }
    return allFailed(events, `unexpected answer ${status}`);
  }

  private accepted(events: readonly OutboundEvent[], body: string): PublishReport {
    const answer = parseJson(body, AcceptedAnswer);
    if (answer === undefined) {
      // The events were taken (2xx) but the answer is unreadable: sending them again would only
      // duplicate them, which the cloud tolerates less well than a missing rejection notice.
      this.options.log.warn('the API accepted a batch with an answer the agent cannot read', {
        events: events.length,
      });
      return { delivered: events.map((event) => event.id), rejected: [], failed: [] };
    }
    const rejected: RejectedEvent[] = [];
    const rejectedIds = new Set<string>();
    for (const entry of answer.rejected) {
      const event = events[entry.index];
      if (event === undefined) continue;
      rejectedIds.add(event.id);
      rejected.push({ id: event.id, reason: 'rejected by the API', issues: entry.issues });
    }
    return {
      delivered: events.filter((event) => !rejectedIds.has(event.id)).map((event) => event.id),
      rejected,
      failed: [],
      plansPending:
        answer.plansPending === true || (typeof answer.plansPending === 'number' && answer.plansPending > 0),
    };
  }

  private post(body: string): Promise<Answer> {
    const { transport, requestTimeoutMs, target } = this.options;
    const secure = this.endpoint.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        this.endpoint,
        {
          method: 'POST',
          agent: secure ? transport.httpsAgent : transport.httpAgent,
          timeout: requestTimeoutMs,
          headers: {
            'content-type': 'application/cloudevents-batch+json',
            'content-length': Buffer.byteLength(body, 'utf8'),
            accept: 'application/json',
            authorization: `Bearer ${target.agentToken}`,
            'user-agent': `faultline-agent/${AGENT_VERSION}`,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
          });
          response.once('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              retryAfter: response.headers['retry-after'],
            }),
          );
          response.once('error', reject);
        },
      );
      request.once('timeout', () => request.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)));
      request.once('error', reject);
      request.end(body);
    });
  }
}

const parseJson = <Schema extends z.ZodType>(text: string, schema: Schema): z.infer<Schema> | undefined => {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/** A whole batch refused: each event gets the issues whose path starts with its index. */
const rejectAll = (
  events: readonly OutboundEvent[],
  reason: string,
  issues: readonly Issue[],
): RejectedEvent[] =>
  events.map((event, index) => {
    const own = issues.filter((issue) => issue.path[0] === index);
    const general = issues.filter((issue) => typeof issue.path[0] !== 'number');
    const relevant = [...own, ...general];
    return relevant.length === 0 ? { id: event.id, reason } : { id: event.id, reason, issues: relevant };
  });
