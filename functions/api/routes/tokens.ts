import { TokenCreated, TokenRequest } from '../../../events/index.ts';
import type { HostRegistry } from '../../adapters/store/port.ts';
import { defineRoute, MAX_COMMAND_BODY_BYTES, type RouteGroup, routeGroup } from '../define-route.ts';
import { registerServer } from '../hosts.ts';
import { type MintDeps, mintToken } from '../tokens.ts';

/**
 * The tokens route group, mounted at `/v1/tokens`: operators mint the bearer tokens of agents and
 * of other operators (../tokens.ts). An agent token asked for with `role` and `serves` registers
 * its host as a server too (../hosts.ts): the grant goes to the host record, not to the token, so
 * a token minted later for the same host, or the host's next token, carries the same grant.
 */

export interface TokenRoutesDeps extends MintDeps {
  readonly hosts: Pick<HostRegistry, 'putHostRecord'>;
}

/** The tokens group: `POST /v1/tokens`. */
export const tokenRoutes = (deps: TokenRoutesDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'post',
      path: '/',
      access: 'operator',
      operationId: 'createToken',
      summary: 'Mint an agent token for a host, or an operator token',
      description:
        'The secret is in this answer only; the store keeps its SHA-256. An agent token with `role` and `serves` also registers its host as a server with that grant (as `PUT /v1/hosts/:id`), before the token is minted.',
      tags: ['operators'],
      body: { schema: TokenRequest, maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: {
        201: { description: 'The token', content: { 'application/json': { schema: TokenCreated } } },
      },
    },
    async (c, { body, principal }) => {
      if ('hostId' in body && body.role !== undefined && body.serves !== undefined) {
        await registerServer(deps, body.hostId, { role: body.role, serves: body.serves }, principal);
      }
      const grant =
        'hostId' in body ? { kind: 'agent' as const, hostId: body.hostId } : { kind: 'operator' as const };
      return c.json(await mintToken(deps, grant, body.label), 201);
    },
  );

  return group;
};
