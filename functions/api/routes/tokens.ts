import { TokenCreated, TokenRequest } from '../../../events/index.ts';
import { defineRoute, MAX_COMMAND_BODY_BYTES, type RouteGroup, routeGroup } from '../define-route.ts';
import { type MintDeps, mintToken } from '../tokens.ts';

/**
 * The tokens route group, mounted at `/v1/tokens`: operators mint the bearer tokens of agents and
 * of other operators (../tokens.ts).
 */

/** The tokens group: `POST /v1/tokens`. */
export const tokenRoutes = (deps: MintDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'post',
      path: '/',
      access: 'operator',
      operationId: 'createToken',
      summary: 'Mint an agent token for a host, or an operator token',
      description: 'The secret is in this answer only; the store keeps its SHA-256.',
      tags: ['operators'],
      body: { schema: TokenRequest, maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: {
        201: { description: 'The token', content: { 'application/json': { schema: TokenCreated } } },
      },
    },
    async (c, { body }) => {
      const grant =
        'hostId' in body ? { kind: 'agent' as const, hostId: body.hostId } : { kind: 'operator' as const };
      return c.json(await mintToken(deps, grant, body.label), 201);
    },
  );

  return group;
};
