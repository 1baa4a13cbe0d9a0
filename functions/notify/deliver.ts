import { retryAfterMs } from '../../events/index.ts';
import type { RetryPolicy } from './config.ts';
import type { DeliveryRequest } from './requests.ts';

/**
 * One delivery over HTTP, with retries: exponential backoff with jitter on 429, 5xx and network
 * failures, honouring `Retry-After` (seconds or an HTTP date); none on any other answer (a 400 will
 * be a 400 again). Only URLs on the allow-list are ever called, and redirects are never followed
 * (a redirect could lead anywhere): a 3xx is a failure to fix in the configuration.
 *
 * The clock, the sleep and the randomness are injected, so tests run without waiting and see the
 * delays that would have been waited.
 */

export interface HttpDeps {
  readonly fetch: typeof fetch;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** In [0, 1). */
  readonly random: () => number;
}

export type DeliveryResult =
  | { readonly kind: 'delivered'; readonly status: number; readonly attempts: number }
  | {
      readonly kind: 'failed';
      /** True when a later try may succeed (429, 5xx, network): the record goes back to SQS. */
      readonly retryable: boolean;
      readonly status: number | undefined;
      readonly attempts: number;
      readonly detail: string;
      /**
       * True when a try got no answer (a timeout, a connection lost): the destination may have
       * taken that request and may still act on it, so the delivery is not known to have failed.
       */
      readonly unanswered: boolean;
    };

type Attempt =
  | { kind: 'delivered'; status: number }
  | { kind: 'retryable'; status: number | undefined; retryAfterMs: number | undefined; detail: string }
  | { kind: 'permanent'; status: number; detail: string };

/** How much of an error answer's body is kept for the reason. */
const MAX_DETAIL_CHARS = 300;
const HTTP_TOO_MANY_REQUESTS = 429;
const HTTP_SERVER_ERROR = 500;
const HTTP_OK_MIN = 200;
const HTTP_OK_MAX = 299;

/** The wait before try `attempt + 1`: an exponential cap, half of it fixed and half jittered. */
export const backoffMs = (attempt: number, policy: RetryPolicy, random: () => number): number => {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
};

const normalise = (url: string): string => {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
};

const readDetail = async (response: Response): Promise<string> => {
  try {
    const text = (await response.text()).replace(/\s+/g, ' ').trim();
    return text.length <= MAX_DETAIL_CHARS ? text : `${text.slice(0, MAX_DETAIL_CHARS - 1)}…`;
  } catch {
    return '';
  }
};

const attemptOnce = async (request: DeliveryRequest, timeoutMs: number, deps: HttpDeps): Promise<Attempt> => {
  let response: Response;
  try {
    response = await deps.fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { kind: 'retryable', status: undefined, retryAfterMs: undefined, detail: `no answer (${reason})` };
  }
  const detail = await readDetail(response);
  const status = response.status;
  if (status >= HTTP_OK_MIN && status <= HTTP_OK_MAX) return { kind: 'delivered', status };
  const described = `HTTP ${status}${detail.length > 0 ? `: ${detail}` : ''}`;
  if (status === HTTP_TOO_MANY_REQUESTS || status >= HTTP_SERVER_ERROR) {
    return {
      kind: 'retryable',
      status,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after'), deps.now()),
      detail: described,
    };
  }
  return { kind: 'permanent', status, detail: described };
};

/** What bounds one delivery's tries besides its policy. */
export interface DeliveryLimits {
  /** The end of the delivery's lease (ms since the epoch): no try starts or runs past it. */
  readonly deadline: number;
  /** Asked before each wait for a retry: a reason stops the tries there (a newer action waits). */
  readonly handOver?: () => Promise<string | undefined>;
}

/**
 * Posts `build(now)` (built again for every try, so a webhook signature is always fresh) until it
 * is delivered, fails for good, or the tries run out, all before `limits.deadline`: the end of the
 * delivery's lease (notify.ts). No try starts at or after it, each try is cut off by it, and a
 * wait that would end past it ends the tries instead: the delivery fails retryably and the queue
 * delivers the record again. Past its lease, another consumer may hold the claim, and a try then
 * could page twice. `limits.handOver` may end the tries the same way. A failure says whether a try
 * went unanswered (`unanswered`): its claim is then kept to the end of its lease, not given back
 * (notify.ts), since the destination may still act on that request. A refused connection counts
 * too: fetch does not tell it apart from one lost after the request was sent.
 */
export const deliverWithRetry = async (
  build: (now: number) => DeliveryRequest,
  allowList: ReadonlySet<string>,
  policy: RetryPolicy,
  deps: HttpDeps,
  limits: DeliveryLimits,
): Promise<DeliveryResult> => {
  const { deadline } = limits;
  let unanswered = false;
  for (let attempt = 1; ; attempt += 1) {
    const startAt = deps.now();
    if (startAt >= deadline) {
      return {
        kind: 'failed',
        retryable: true,
        status: undefined,
        attempts: attempt - 1,
        detail: 'its delivery lease ended before a try could start; the queue delivers it again',
        unanswered,
      };
    }
    const request = build(startAt);
    if (!allowList.has(normalise(request.url))) {
      return {
        kind: 'failed',
        retryable: false,
        status: undefined,
        attempts: attempt - 1,
        detail: 'the URL is not on the allow-list; nothing was sent',
        unanswered,
      };
    }
    const result = await attemptOnce(request, Math.min(policy.timeoutMs, deadline - startAt), deps);
    if (result.kind === 'delivered') return { kind: 'delivered', status: result.status, attempts: attempt };
    if (result.kind === 'permanent') {
      return {
        kind: 'failed',
        retryable: false,
        status: result.status,
        attempts: attempt,
        detail: result.detail,
        unanswered,
      };
    }
    if (result.status === undefined) unanswered = true;
    const failed = {
      kind: 'failed',
      retryable: true,
      status: result.status,
      attempts: attempt,
      unanswered,
    } as const;
    if (attempt >= policy.maxAttempts) {
      return { ...failed, detail: `${result.detail} (after ${attempt} tries)` };
    }
    if (result.retryAfterMs !== undefined && result.retryAfterMs > policy.maxRetryAfterMs) {
      return {
        ...failed,
        detail: `${result.detail} (Retry-After ${Math.ceil(result.retryAfterMs / 1_000)} s is longer than this consumer waits)`,
      };
    }
    const waitMs = Math.max(result.retryAfterMs ?? 0, backoffMs(attempt, policy, deps.random));
    const handOver = await limits.handOver?.();
    if (handOver !== undefined) return { ...failed, detail: `${result.detail} (${handOver})` };
    if (deps.now() + waitMs >= deadline) {
      return {
        ...failed,
        detail: `${result.detail} (its delivery lease ends before the next try; the queue delivers it again)`,
      };
    }
    await deps.sleep(waitMs);
  }
};
