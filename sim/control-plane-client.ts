import type { z } from 'zod';
import {
  type AffectedHostBody,
  type HostGrant,
  type IncidentBody,
  IncidentDetailBody,
  IncidentList,
  issuesText,
  parseWith,
  type SinglePointOfFailureBody,
  StatsBody,
  type TimelineEntryBody,
  TopologyBody,
} from '../events/index.ts';
import { DemoError } from './errors.ts';

/**
 * The demo's side of the control plane's HTTP API (docs/architecture.md §6): the operator calls it
 * needs, each with a clear error when the control plane does not answer or refuses the token. It
 * posts only to register the servers and mint the agent tokens, before any agent runs; then it only
 * reads (health, incidents, stats, topology). The simulated hosts' events come from their own
 * agents, each with its own agent token.
 */

const REQUEST_TIMEOUT_MS = 15_000;

export type IncidentSummary = IncidentBody;
export type TimelineEntry = TimelineEntryBody;
export type AffectedHost = AffectedHostBody;
export type IncidentDetail = {
  incident: IncidentSummary;
  timeline: TimelineEntry[];
  affectedHosts: AffectedHost[];
};
export type Stats = StatsBody;

/** An answer read through the API's own schema (events/api.ts), or a clear error naming what is off. */
const answerOf = <S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> => {
  const parsed = parseWith(schema, value);
  if (parsed.ok) return parsed.value;
  throw new DemoError(
    'api-error',
    `${what} answered outside the API's contract: ${issuesText(parsed.issues)}`,
  );
};

export class ControlPlane {
  constructor(
    readonly url: string,
    private readonly operatorToken: string | undefined,
  ) {}

  /** One call; `token` defaults to the operator token. */
  async call(method: string, path: string, body?: unknown, token = this.operatorToken): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as Error).cause as { code?: string } | undefined;
      throw new DemoError(
        'control-plane-unreachable',
        `the control plane is not answering at ${this.url} (${cause?.code ?? (error as Error).message}): start it with \`npm start\` (faultline up) in another terminal, or point --url at it`,
        { cause: error },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (response.status === 401) {
      throw new DemoError(
        'token-refused',
        `the control plane at ${this.url} refused the operator token: pass --token, set FAULTLINE_TOKEN, or --data the folder \`faultline up\` uses`,
      );
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new DemoError(
        'api-error',
        `${method} ${path}: ${response.status} ${error?.code ?? ''} ${error?.message ?? text}`.trim(),
      );
    }
    return parsed;
  }

  /** Checks the control plane answers and the operator token is good (listing incidents needs it). */
  async check(): Promise<void> {
    if (this.operatorToken === undefined) {
      throw new DemoError(
        'token-refused',
        'no operator token: pass --token, set FAULTLINE_TOKEN, or run the demo where `faultline up` keeps its data folder (--data)',
      );
    }
    await this.call('GET', '/v1/health', undefined, undefined);
    await this.call('GET', '/v1/incidents?limit=1');
  }

  /**
   * Mints `hostId`'s agent token; with a `grant`, registers it as a server first (the grant goes to
   * its host record, §3 "Sender binding"), so its heartbeats and announcements are accepted.
   */
  async mintAgentToken(hostId: string, grant?: HostGrant): Promise<string> {
    const answer = (await this.call('POST', '/v1/tokens', { kind: 'agent', hostId, ...grant })) as {
      token?: unknown;
    };
    if (typeof answer?.token !== 'string')
      throw new DemoError('api-error', `POST /v1/tokens gave no token for ${hostId}`);
    return answer.token;
  }

  async incidents(): Promise<IncidentSummary[]> {
    const path = '/v1/incidents?limit=100';
    return answerOf(IncidentList, await this.call('GET', path), `GET ${path}`).incidents;
  }

  async incident(id: string): Promise<IncidentDetail> {
    const path = `/v1/incidents/${encodeURIComponent(id)}`;
    const detail = answerOf(IncidentDetailBody, await this.call('GET', path), `GET ${path}`);
    return {
      incident: detail.incident,
      timeline: detail.timeline.items,
      affectedHosts: detail.affectedHosts.items,
    };
  }

  /** The fleet's single points of failure (`GET /v1/topology`, every page). */
  async singlePointsOfFailure(): Promise<SinglePointOfFailureBody[]> {
    const found: SinglePointOfFailureBody[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/v1/topology?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const page: TopologyBody = answerOf(TopologyBody, await this.call('GET', path), `GET ${path}`);
      found.push(...page.singlePointsOfFailure);
      cursor = page.cursor;
    } while (cursor !== null);
    return found;
  }

  async stats(): Promise<Stats> {
    return answerOf(StatsBody, await this.call('GET', '/v1/stats'), 'GET /v1/stats');
  }
}
