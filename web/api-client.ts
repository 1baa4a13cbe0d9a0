import type { z } from 'zod';
import { ApiError } from '../events/index.ts';

/**
 * How the page reads and acts: through the HTTP API itself, in the same process (the API app's own
 * `request`), with the signed-in operator's token as its bearer. So the page has no access of its
 * own to anything: every read and action goes through the API's routes, their authentication
 * (an agent's token gets 403 here as anywhere), their validation and their answers, parsed with
 * the contract's schemas (events/api.ts).
 */

/** The API in this process: the app's `request`, as `fetch` would be called. */
export type ApiRequest = (path: string, init: RequestInit) => Response | Promise<Response>;

/** The API refused or failed: its status and the message of its error body. */
export class ApiAnswerError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiAnswerError';
    this.status = status;
  }
}

const messageOf = async (response: Response): Promise<string> => {
  const text = await response.text();
  try {
    const parsed = ApiError.safeParse(JSON.parse(text));
    if (parsed.success) {
      const issue = parsed.data.error.issues?.[0];
      return issue === undefined
        ? parsed.data.error.message
        : `${parsed.data.error.message}: ${issue.message}`;
    }
  } catch {
    // Not JSON: the status says enough.
  }
  return `the API answered ${response.status}`;
};

export class ApiClient {
  readonly #request: ApiRequest;
  readonly #token: string;

  constructor(request: ApiRequest, token: string) {
    this.#request = request;
    this.#token = token;
  }

  /** GETs a route and parses its answer with the contract's schema; a refusal throws {@link ApiAnswerError}. */
  async get<Schema extends z.ZodType>(schema: Schema, path: string): Promise<z.infer<Schema>> {
    const response = await this.#request(path, {
      method: 'GET',
      headers: { authorization: `Bearer ${this.#token}`, accept: 'application/json' },
    });
    if (!response.ok) throw new ApiAnswerError(response.status, await messageOf(response));
    return schema.parse(await response.json());
  }

  /** Sends an operator's command (a JSON body); answers what the API said of it. */
  async send(method: 'POST' | 'PUT', path: string, body: unknown): Promise<void> {
    const response = await this.#request(path, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new ApiAnswerError(response.status, await messageOf(response));
    await response.arrayBuffer();
  }
}
