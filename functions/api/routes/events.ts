import { EventsAccepted, EventsRequest, LIMITS } from '../../../events/index.ts';
import { readJsonBody } from '../body.ts';
import { defineRoute, type RouteGroup, routeGroup } from '../define-route.ts';
import { type IngestDeps, ingestEvents } from '../ingest.ts';

/**
 * The events route group, mounted at `/v1/events`: agents (and operators) post CloudEvents, which
 * ../ingest.ts parses, binds to their sender and queues for correlate.
 */

/** The events group: `POST /v1/events`. */
export const eventRoutes = (deps: IngestDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'post',
      path: '/',
      access: 'authenticated',
      operationId: 'postEvents',
      summary: 'Ingest one CloudEvent or a batch',
      description:
        "An agent token may post only its own host's events; `ipl.completed`, `domain.rebooted` and `domain.going-down` only from a host of role hosting or control, or an operator token. Accepted events are stamped with `receivedat` and queued for correlate.",
      tags: ['agents'],
      rawBody: {
        schema: EventsRequest,
        maxBytes: LIMITS.maxBatchBytes,
        mediaTypes: [
          'application/cloudevents-batch+json',
          'application/cloudevents+json',
          'application/json',
        ],
      },
      responses: {
        202: {
          description: 'At least one event was accepted; the others are listed by index with their issues.',
          content: { 'application/json': { schema: EventsAccepted } },
        },
      },
    },
    async (c, { principal }) => {
      const body = await readJsonBody(c.req.raw, { maxBytes: LIMITS.maxBatchBytes, required: true });
      return c.json(await ingestEvents(body, principal, deps), 202);
    },
  );

  return group;
};
