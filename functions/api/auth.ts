import { timingSafeEqual } from 'node:crypto';
import type { StoredToken, TokenStore } from '../adapters/store/port.ts';
import { hashToken, tokenIdOf } from '../adapters/store/tokens.ts';
import type { AuthenticatedSender } from '../correlate/messages.ts';
import { ForbiddenError, UnauthorizedError } from './errors.ts';

/**
 * Bearer tokens (docs/architecture.md §6 "Auth"). A token is looked up by its SHA-256, never stored or
 * compared in the clear: the lookup key is a hash of the secret, so how long a lookup takes says
 * nothing about the secret, and the hash the store returns is compared once more in constant time
 * (a store that matched loosely — case-folding, a prefix — must not let a near miss in).
 *
 * An agent token is bound to one host id: it may post that host's events and read that host's
 * plans, and nothing else. An operator token may do everything.
 */

/**
 * Who a request is from: an agent (bound to its host) or an operator (by its token's label), and
 * the id of the token it came with (so `DELETE /v1/tokens/:id` can tell a token revoking itself).
 */
export type Principal = AuthenticatedSender & { readonly tokenId: string };

/** The label an operator token without one is known by (in logs and in the queue's sender stamp). */
export const DEFAULT_OPERATOR_LABEL = 'operator';

/** Longer than any secret Faultline mints (`flt_` + 43 characters); longer ones are not looked up. */
const MAX_TOKEN_LENGTH = 512;
/** RFC 6750 `b64token`. */
const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/-]+=*)[ \t]*$/i;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The secret of an `Authorization: Bearer <token>` header. */
export const bearerSecret = (header: string | undefined): string => {
  if (header === undefined || header.trim() === '') throw new UnauthorizedError('missing');
  if (header.length > MAX_TOKEN_LENGTH + 'Bearer '.length + 16) throw new UnauthorizedError('malformed');
  const match = BEARER.exec(header);
  const secret = match?.[1];
  if (secret === undefined || secret.length > MAX_TOKEN_LENGTH) throw new UnauthorizedError('malformed');
  return secret;
};

const sameHash = (stored: string, computed: string): boolean =>
  SHA256_HEX.test(stored) && timingSafeEqual(Buffer.from(stored, 'hex'), Buffer.from(computed, 'hex'));

/** The principal a stored token names. */
export const principalOf = (token: StoredToken): Principal =>
  token.kind === 'agent'
    ? { kind: 'agent', hostId: token.hostId, tokenId: tokenIdOf(token.hash) }
    : { kind: 'operator', label: token.label ?? DEFAULT_OPERATOR_LABEL, tokenId: tokenIdOf(token.hash) };

/** Authenticates an Authorization header against the token store, or throws `UnauthorizedError`. */
export const authenticate = async (
  header: string | undefined,
  tokens: Pick<TokenStore, 'getToken'>,
): Promise<Principal> => {
  const hash = hashToken(bearerSecret(header));
  const stored = await tokens.getToken(hash);
  if (stored === undefined || !sameHash(stored.hash, hash)) throw new UnauthorizedError('unknown');
  return principalOf(stored);
};

/** Only an operator token may do this. */
export const requireOperator = (principal: Principal): void => {
  if (principal.kind !== 'operator') {
    throw new ForbiddenError('an agent token may only post its own events and read its own plans');
  }
};

/** An agent token may act only for its own host; an operator token for any. */
export const requireHost = (principal: Principal, hostId: string): void => {
  if (principal.kind === 'agent' && principal.hostId !== hostId) {
    throw new ForbiddenError(`this agent token is bound to host ${principal.hostId}, not ${hostId}`);
  }
};
