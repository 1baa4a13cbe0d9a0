import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../events/index.ts';
import { FUZZ_INCIDENT_ID, type FuzzRequest, fuzzRequest } from '../../helpers/api-fuzz.ts';
import { type ApiHarness, agentSecret, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { incidentRow, putIncident } from '../../helpers/api-incidents.ts';
import { signedPlan } from '../../helpers/api-plans.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

/** 2,000 in the suite; the benchmark sets FAULTLINE_API_FUZZ_RUNS=100000. */
const RUNS = Number(process.env.FAULTLINE_API_FUZZ_RUNS ?? 2000);
/** 429: the ingest rate limit (functions/api/rate-limit.ts), a refusal with its reason like the others. */
const KNOWN_STATUSES = new Set([200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 415, 429]);
/** The web page (web/) answers HTML or sends to its sign-in: never a 5xx either. */
const WEB_STATUSES = new Set([200, 303, 400, 401, 403, 404]);
const isWebPage = (response: Response): boolean =>
  response.status === 303 || (response.headers.get('content-type') ?? '').startsWith('text/html');

describe('API fuzzing', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await apiHarness();
    await api.agentToken(AGENT_HOST);
    await api.agentToken('lnxclient08.example.net');
    await api.putHost(AGENT_HOST, { role: 'client' });
    await putIncident(api.store, incidentRow(FUZZ_INCIDENT_ID), [AGENT_HOST]);
    await api.store.putPlan(await signedPlan(api.folder, { hostId: AGENT_HOST, issuedAt: api.clock.now }));
  });
  afterAll(async () => api.close());

  const send = async (request: FuzzRequest): Promise<Response> =>
    api.app.request(request.path, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
    });

  it(`answers ${RUNS} random and mutated requests to every route with no 5xx, and a reason for every 4xx`, async () => {
    const tokens = {
      operator: OPERATOR_SECRET,
      agent: agentSecret(AGENT_HOST),
      otherAgent: agentSecret('lnxclient08.example.net'),
    };
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fuzzRequest(tokens), async (request) => {
        const response = await send(request);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const text = await response.text();
        if (isWebPage(response)) return WEB_STATUSES.has(response.status);
        if (!KNOWN_STATUSES.has(response.status)) return false;
        if (request.method === 'HEAD') return true;
        const body: unknown = JSON.parse(text);
        if (response.status < 400) return true;
        const error = ApiError.safeParse(body);
        return error.success && error.data.error.message.length > 0;
      }),
      { numRuns: RUNS },
    );
    expect(api.logs.filter((entry) => entry.level === 'error')).toEqual([]);
    // The fuzzing reached past authentication and parsing into every kind of answer.
    for (const status of [200, 202, 400, 401, 403, 404, 413])
      expect(statuses.get(status) ?? 0, String(status)).toBeGreaterThan(0);
  });
});
