import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import type { ResolvedApiTarget } from '../config.ts';
import { AGENT_VERSION } from '../detect/heartbeat.ts';
import type { Transport } from '../publish/proxy-tunnel.ts';
import { PlanFetchError } from './errors.ts';

/**
 * `GET /v1/agents/:hostId/plans` (§6) with the host's agent token, through the transport the
 * publisher uses (the configured proxy with CONNECT, the extra CA bundle). The answer is
 * `{plans, nextPollSeconds}`; each plan is left unparsed here, so one bad plan is refused on its
 * own (with its id) rather than hiding the others. `?wait=<seconds>` asks for a long poll: the
 * local runtime holds the request until a plan is ready or the wait is over, and an API that does
 * not hold requests (Lambda) ignores it and answers at once, so asking costs nothing.
 */

/** What one poll brought. */
export type PlanPoll = {
  plans: unknown[];
  /** When to ask again, as the control plane said. */
  nextPollSeconds: number;
  /** When the answer arrived, by the agent's clock: a plan's age is counted from here. */
  receivedAt: Date;
};

/** Where plans come from; tests give a fixed list, the agent the HTTP API. */
export interface PlanSource {
  fetchPlans(options: { waitSeconds: number; signal?: AbortSignal | undefined }): Promise<PlanPoll>;
  close(): void;
}

/** The most plans one answer may carry, and the most bytes; more is not a Faultline answer. */
const MAX_PLANS = 256;
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

const PlansAnswer = z.object({
  plans: z.array(z.unknown()).max(MAX_PLANS),
  nextPollSeconds: z.number().min(0).max(86_400),
});

export type HttpPlanSourceOptions = {
  target: ResolvedApiTarget;
  hostId: string;
  transport: Transport;
  /** The request timeout; a long poll adds its wait to it. */
  requestTimeoutMs: number;
  clock?: () => Date;
};

export class HttpPlanSource implements PlanSource {
  private readonly base: URL;

  constructor(private readonly options: HttpPlanSourceOptions) {
    const root = options.target.url.endsWith('/') ? options.target.url : `${options.target.url}/`;
    this.base = new URL(`v1/agents/${encodeURIComponent(options.hostId)}/plans`, root);
  }

  /** The URL of one poll. */
  url(waitSeconds: number): URL {
    const url = new URL(this.base);
    if (waitSeconds > 0) url.searchParams.set('wait', String(Math.round(waitSeconds)));
    return url;
  }

  async fetchPlans(options: { waitSeconds: number; signal?: AbortSignal | undefined }): Promise<PlanPoll> {
    const url = this.url(options.waitSeconds);
    const answer = await this.get(
      url,
      this.options.requestTimeoutMs + Math.max(0, options.waitSeconds) * 1000,
      options.signal,
    );
    const receivedAt = (this.options.clock ?? (() => new Date()))();
    if (answer.status === 204) return { plans: [], nextPollSeconds: 0, receivedAt };
    if (answer.status !== 200) {
      throw new PlanFetchError(url.href, answer.status, errorMessage(answer.body));
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body);
    } catch (error) {
      throw new PlanFetchError(url.href, answer.status, 'the answer is not JSON', { cause: error });
    }
    const plans = PlansAnswer.safeParse(parsed);
    if (!plans.success) {
      throw new PlanFetchError(
        url.href,
        answer.status,
        `the answer is not {plans, nextPollSeconds}: ${plans.error.issues[0]?.message ?? ''}`,
      );
    }
    return { ...plans.data, receivedAt };
  }

  close(): void {
    // The transport belongs to whoever made it.
  }

  private get(
    url: URL,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; body: string }> {
    const { transport, target } = this.options;
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        url,
        {
          method: 'GET',
          agent: secure ? transport.httpsAgent : transport.httpAgent,
          timeout: timeoutMs,
          headers: {
            accept: 'application/json',
            authorization: `Bearer ${target.agentToken}`,
            'user-agent': `faultline-agent/${AGENT_VERSION}`,
          },
          ...(signal === undefined ? {} : { signal }),
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              request.destroy(new Error(`the answer exceeds ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.once('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          response.once('error', reject);
        },
      );
      request.once('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.once('error', (error) =>
        reject(new PlanFetchError(url.href, undefined, error.message, { cause: error })),
      );
      request.end();
    });
  }
}

const errorMessage = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string')
      return `${parsed.error.code}: ${String(parsed.error.message ?? '')}`;
  } catch {
    // not a Faultline error body
  }
  return body.slice(0, 200);
};
