import {
  TokenCreated,
  TokenIdParams,
  TokenList,
  TokenListQuery,
  TokenRequest,
  TokenSummary,
} from '../../../events/index.ts';
import type { HostRegistry } from '../../adapters/store/port.ts';
import {
  defineRoute,
  errorAnswer,
  MAX_COMMAND_BODY_BYTES,
  type RouteGroup,
  routeGroup,
} from '../define-route.ts';
import { registerServer } from '../hosts.ts';
import { listTokens, type ManageDeps, type MintDeps, mintToken, revokeToken } from '../tokens.ts';

/**
 * The tokens route group, mounted at `/v1/tokens`: operators mint, list and revoke the bearer
 * tokens of agents and of other operators (../tokens.ts says what a token's id is and why an
 * operator token may not revoke itself). An agent token asked for with `role` and `serves`
 * registers its host as a server too (../hosts.ts): the grant goes to the host record, not to the
 * token, so a token minted later for the same host, or the host's next token, carries the same
 * grant.
 */

export interface TokenRoutesDeps extends MintDeps {
  readonly tokens: MintDeps['tokens'] & ManageDeps['tokens'];
  readonly hosts: Pick<HostRegistry, 'putHostRecord'>;
}

const TOKEN_ID_TEXT =
  'A token is known by its id: `tok-` and the first 16 hex digits of the SHA-256 of its stored hash (stable, never the secret or the hash itself).';

/** The tokens group: `POST /v1/tokens`, `GET /v1/tokens`, `DELETE /v1/tokens/:id`. */
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
      description: `The secret is in this answer only; the store keeps its SHA-256. ${TOKEN_ID_TEXT} An agent token with \`role\` and \`serves\` also registers its host as a server with that grant (as \`PUT /v1/hosts/:id\`), before the token is minted.`,
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

  defineRoute(
    group,
    {
      method: 'get',
      path: '/',
      access: 'operator',
      operationId: 'listTokens',
      summary: 'List the tokens, oldest first, without their secrets',
      description: `Every agent and operator token: its id, kind, host (agents), label and creation time; never the secret or its hash. ${TOKEN_ID_TEXT}`,
      tags: ['operators'],
      query: TokenListQuery,
      responses: {
        200: { description: 'One page of tokens', content: { 'application/json': { schema: TokenList } } },
      },
    },
    async (c, { query }) => c.json(await listTokens(deps, query), 200),
  );

  defineRoute(
    group,
    {
      method: 'delete',
      path: '/{id}',
      access: 'operator',
      operationId: 'revokeToken',
      summary: 'Revoke a token: its next request is refused (401)',
      description: `${TOKEN_ID_TEXT} The token of the request itself may not be revoked (409): whoever revokes keeps a working operator token, so the last operator token is never revoked by accident; mint a successor and revoke the old token with it.`,
      tags: ['operators'],
      params: TokenIdParams,
      responses: {
        200: {
          description: 'The token revoked, as it was',
          content: { 'application/json': { schema: TokenSummary } },
        },
        404: errorAnswer('No token with this id.'),
        409: errorAnswer('The token making the request.'),
      },
    },
    async (c, { params, principal }) => c.json(await revokeToken(deps, params.id, principal), 200),
  );

  return group;
};
