import { z } from 'zod';
import { HostIdParams, LIMITS, PlansQuery, PlansResponse } from '../../../events/index.ts';
import { requireHost } from '../auth.ts';
import { readCollectBody } from '../body.ts';
import { CollectAnswer, type CollectDeps, collectFromHost } from '../collect.ts';
import { defineRoute, errorAnswer, type RouteGroup, routeGroup } from '../define-route.ts';
import { chargeRateLimit } from '../ingest.ts';
import {
  nextPollSeconds,
  type PollSeconds,
  plansInLines,
  type WaitForPlansDeps,
  waitForPlans,
} from '../plans.ts';
import { IngestRateLimit, RATE_LIMITED_ANSWER } from '../rate-limit.ts';

/**
 * The agents route group, mounted at `/v1/agents`: what a host's agent reads about itself (its
 * signed plans, ../plans.ts, as JSON or in lines for the sh agent) and what the sh agent posts of
 * it (the raw output of its tools, ../collect.ts), each under its own host id.
 */

export interface AgentRoutesDeps extends WaitForPlansDeps {
  /** How often agents are asked to poll, with and without work in flight. */
  readonly poll: PollSeconds;
  /** What `POST /v1/agents/:hostId/collect` reads, judges, remembers and queues with. */
  readonly collect: CollectDeps;
}

/** The header of a lines answer that says when to ask again (the sh agent reads no JSON). */
export const NEXT_POLL_HEADER = 'X-Faultline-Next-Poll-Seconds';

const PlansFormatQuery = PlansQuery.extend({
  format: z
    .enum(['json', 'lines'])
    .optional()
    .describe(
      '`lines` for the sh agent: `text/plain`, each plan in the line format of docs/architecture.md §6 with its `sig` line; `json` (the default) otherwise.',
    ),
});

const PLAN_LINES_EXAMPLE = [
  'plan\tpln-1\tinc-1\tldg1\tboot-1\t1\t0\t2026-11-22T03:10:00.000Z\t900\texecute',
  'step\tsteps\t0\tdisk.probe\tdisk=c0d1\tfailureDomain=vdisk:cdom1/alternate',
  'sig\tMEUCIQ...',
  '',
].join('\n');

/** The agents group: `GET /v1/agents/:hostId/plans` and `POST /v1/agents/:hostId/collect`. */
export const agentRoutes = (deps: AgentRoutesDeps): RouteGroup => {
  const group = routeGroup();
  const rateLimit = deps.collect.rateLimit ?? new IngestRateLimit({}, deps.collect.now);

  defineRoute(
    group,
    {
      method: 'get',
      path: '/{hostId}/plans',
      access: 'authenticated',
      operationId: 'getPlans',
      summary: "A host's signed plans, and when to ask again",
      description: [
        'Plans not revoked, not expired and not finished, oldest first. `?wait=` holds the request until a plan is there where the deployment allows it (the local runtime); elsewhere it answers at once.',
        `With \`?format=lines\` (the sh agent, which reads no JSON) the answer is \`text/plain\`: per plan a \`plan\` line, one \`step\` line per step, then \`sig<TAB><base64 DER ECDSA P-256 signature>\` over exactly the plan's lines before it (each ending in \\n), from the same key as the JSON plans (verify with \`openssl dgst -sha256 -verify\`); plans separated by an empty line; no plan, an empty body. When to ask again is the \`${NEXT_POLL_HEADER}\` header. A plan stored without a lines signature (issued before plans were signed in lines) is served as JSON only.`,
      ].join('\n\n'),
      tags: ['agents'],
      params: HostIdParams,
      query: PlansFormatQuery,
      responses: {
        200: {
          description: 'The plans, as JSON or (`?format=lines`) in lines',
          headers: {
            [NEXT_POLL_HEADER]: {
              description: 'With `?format=lines`: when to ask again, in seconds.',
              schema: { type: 'integer', minimum: 1 },
            },
          },
          content: {
            'application/json': { schema: PlansResponse },
            'text/plain': {
              schema: z.string().meta({
                description: 'Plans in lines (`?format=lines`).',
                example: PLAN_LINES_EXAMPLE,
              }),
            },
          },
        },
        403: errorAnswer("An agent token asking for another host's plans."),
      },
    },
    async (c, { params, query, principal }) => {
      requireHost(principal, params.hostId);
      const hostPlans = await waitForPlans(deps, params.hostId, query.wait ?? 0, c.req.raw.signal);
      const next = nextPollSeconds(hostPlans, deps.poll);
      if (query.format === 'lines') {
        const { body } = plansInLines(hostPlans.plans);
        c.header(NEXT_POLL_HEADER, String(next));
        c.header('Content-Type', 'text/plain; charset=utf-8');
        return c.body(body, 200);
      }
      return c.json({ plans: hostPlans.plans.map((stored) => stored.plan), nextPollSeconds: next }, 200);
    },
  );

  defineRoute(
    group,
    {
      method: 'post',
      path: '/{hostId}/collect',
      access: 'authenticated',
      operationId: 'postCollect',
      summary: 'The sh agent posts the raw output of its tools; the control plane makes its events',
      description:
        "For hosts where Node does not run (LDoms guests and control domains on SPARC): a `text/plain` body of sections, each opened by a line `#faultline <section>`: `metastat`, `metastat-c`, `metadb` (`metadb -i`), `ldm-list` (`ldm list -p`), `ldm-disks` (`ldm list -o disk -p`), `host` (`key=value` lines: `platform`, `role`, `agentVersion`, `intervalSeconds`, `bootid`, `bootedAt`, `seq`, `time`, and optionally `capabilities`), `progress` (`planId step action outcome [code] [branch]`, tab-separated, one line per plan step result) and `announce` (`going-down [reason]`). The control plane parses the tools' output with the Node agent's own parsers, diffs it against the host's last collect and makes the events a Node agent on that host would have sent (a heartbeat every collect; `mirror.*`; on a control domain `domain.going-down` and `domain.rebooted`; `command.progress`; `domain.going-down` for an announcement), judged by ingest as `POST /v1/events` judges posted ones (the sender binding and the host's grant) and queued for correlate. Event ids are derived from the host, `bootid`, `seq` and the event's index: a collect sent again makes the same events; a collect whose (`bootid`, `seq`) is older than the host's last makes none. An unknown section is ignored; a malformed one rejects the whole collect (400 with its issues, nothing applied).",
      tags: ['agents'],
      params: HostIdParams,
      rawBody: {
        schema: z.string().meta({
          description: 'Sections, each opened by `#faultline <section>`.',
          example:
            '#faultline host\nplatform=solaris\nrole=client\n...\n#faultline metastat\nd0: Mirror\n...',
        }),
        maxBytes: LIMITS.maxBatchBytes,
        mediaTypes: ['text/plain'],
      },
      responses: {
        202: {
          description:
            'The events the collect made (none for a collect not newer than the last), those ingest refused by index with their issues, and whether plans wait.',
          content: { 'application/json': { schema: CollectAnswer } },
        },
        403: errorAnswer('An agent token posting for another host.'),
        429: RATE_LIMITED_ANSWER,
      },
    },
    async (c, { params, principal }) => {
      requireHost(principal, params.hostId);
      // The token's rate limit (../rate-limit.ts): admitted before the body is read, charged the
      // events the collect makes before any is remembered or queued.
      const who = rateLimit.keyOf(principal);
      const { metrics } = deps.collect;
      chargeRateLimit(rateLimit, who, 'admit', metrics);
      const text = await readCollectBody(c.req.raw, LIMITS.maxBatchBytes);
      const charge = (events: number): void => chargeRateLimit(rateLimit, who, events, metrics);
      return c.json(await collectFromHost(params.hostId, text, principal, deps.collect, charge), 202);
    },
  );

  return group;
};
