import { z } from 'zod';
import { HealthBody } from '../../../events/index.ts';
import type { ProjectionReader } from '../../adapters/store/port.ts';
import { defineRoute, type RouteGroup, routeGroup } from '../define-route.ts';

/**
 * The service route group, mounted at `/`: whether the API answers (`GET /v1/health`, the one route
 * without a token) and what it is (`GET /openapi.json`, the document of the whole app).
 */

export interface ServiceRoutesDeps {
  readonly store: Pick<ProjectionReader, 'getControl'>;
  readonly now: () => number;
  /** The OpenAPI document of the composed app; asked on the first `GET /openapi.json`, then kept. */
  readonly describe: () => Record<string, unknown>;
}

/** The service group: `GET /v1/health` and `GET /openapi.json`. */
export const serviceRoutes = ({ store, now, describe }: ServiceRoutesDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'get',
      path: '/v1/health',
      access: 'public',
      operationId: 'health',
      summary: 'Whether the API and its store answer (no token needed)',
      tags: ['service'],
      responses: { 200: { description: 'Healthy', content: { 'application/json': { schema: HealthBody } } } },
    },
    async (c) => {
      const control = await store.getControl();
      return c.json(
        { status: 'ok' as const, paused: control.paused, time: new Date(now()).toISOString() },
        200,
      );
    },
  );

  let document: Record<string, unknown> | undefined;
  defineRoute(
    group,
    {
      method: 'get',
      path: '/openapi.json',
      access: 'authenticated',
      operationId: 'openapi',
      summary: 'This description (OpenAPI 3.0)',
      tags: ['service'],
      responses: {
        200: {
          description: 'The OpenAPI document',
          content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } },
        },
      },
    },
    (c) => {
      document ??= describe();
      return c.json(document, 200);
    },
  );

  return group;
};
