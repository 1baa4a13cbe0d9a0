import { HostIdParams, PlansQuery, PlansResponse } from '../../../events/index.ts';
import { requireHost } from '../auth.ts';
import { defineRoute, errorAnswer, type RouteGroup, routeGroup } from '../define-route.ts';
import { nextPollSeconds, type PollSeconds, type WaitForPlansDeps, waitForPlans } from '../plans.ts';

/**
 * The agents route group, mounted at `/v1/agents`: what a host's agent reads about itself (its
 * signed plans, ../plans.ts), under its own host id.
 */

export interface AgentRoutesDeps extends WaitForPlansDeps {
  /** How often agents are asked to poll, with and without work in flight. */
  readonly poll: PollSeconds;
}

/** The agents group: `GET /v1/agents/:hostId/plans`. */
export const agentRoutes = (deps: AgentRoutesDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'get',
      path: '/{hostId}/plans',
      access: 'authenticated',
      operationId: 'getPlans',
      summary: "A host's signed plans, and when to ask again",
      description:
        'Plans not revoked, not expired and not finished, oldest first. `?wait=` holds the request until a plan is there where the deployment allows it (the local runtime); elsewhere it answers at once.',
      tags: ['agents'],
      params: HostIdParams,
      query: PlansQuery,
      responses: {
        200: { description: 'The plans', content: { 'application/json': { schema: PlansResponse } } },
        403: errorAnswer("An agent token asking for another host's plans."),
      },
    },
    async (c, { params, query, principal }) => {
      requireHost(principal, params.hostId);
      const hostPlans = await waitForPlans(deps, params.hostId, query.wait ?? 0, c.req.raw.signal);
      return c.json({ plans: hostPlans.plans, nextPollSeconds: nextPollSeconds(hostPlans, deps.poll) }, 200);
    },
  );

  return group;
};
