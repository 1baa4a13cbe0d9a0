import type { TokenList, TokenSummary } from '../../events/index.ts';
import type { StoredToken, TokenStore } from '../adapters/store/port.ts';
import { hashToken, tokenIdOf } from '../adapters/store/tokens.ts';
import type { Principal } from './auth.ts';
import { ConflictError, InternalError, InvalidRequestError, NotFoundError } from './errors.ts';

/**
 * The bearer tokens operators manage (docs/architecture.md §6: `POST /v1/tokens`, `GET /v1/tokens`,
 * `DELETE /v1/tokens/:id`; operators only). The secret is returned once, in the answer to its
 * minting, and only its SHA-256 is stored: a lost token is replaced, never recovered.
 *
 * **A token's id** is `tok-` and the first 16 hex digits of the SHA-256 of its stored hash. It is
 * derived, so it needs no column and is the same on every store; it is short enough to type; and
 * it is neither the secret nor the hash the store looks the secret up by, so a listing grants
 * nothing. With 64 bits, two tokens of one fleet sharing an id is about a chance in 10^9 at
 * 100,000 tokens.
 *
 * **Revoking** deletes the stored hash: the next request with that token is 401 (the API looks
 * every request's token up in the store, with a strongly consistent read on DynamoDB, and caches
 * none). An operator token may not revoke itself (409): whoever revokes is left holding a working
 * operator token, so the last operator token can never be revoked through the API and nobody is
 * locked out by accident (to retire a token, mint its successor and revoke the old one with it).
 * Two operators revoking each other's tokens at the same moment is the one way left to lose both
 * (the local runtime then mints a new one at its next start, or takes `--operator-token`).
 *
 * The store lists every token (one per host, plus the operators'); the API pages that list for its
 * answer, oldest first, so no answer grows with the fleet. Revoking finds its id in the same
 * listing: a rare action, one read of a few hundred bytes per token. On DynamoDB that listing is
 * an index, eventually consistent: a token minted a second ago may not be listed (nor revocable:
 * 404) yet, and one just revoked may still be listed for a moment, while the token itself is
 * refused at once (authentication reads the item, strongly).
 */

export type TokenGrant = { readonly kind: 'agent'; readonly hostId: string } | { readonly kind: 'operator' };

export interface MintedToken extends TokenSummary {
  readonly token: string;
}

export interface MintDeps {
  readonly tokens: Pick<TokenStore, 'putToken'>;
  readonly now: () => number;
  readonly newSecret: () => string;
}

export interface ManageDeps {
  readonly tokens: Pick<TokenStore, 'listTokens' | 'deleteToken'>;
}

/** A hash collision of 32 random bytes does not happen; a secret generator that repeats itself does. */
const MINT_ATTEMPTS = 3;

const TOKEN_PAGE = { defaultLimit: 500 } as const;

/** A stored token as listed: its id instead of its hash. */
const tokenSummary = (token: StoredToken): TokenSummary => ({
  id: tokenIdOf(token.hash),
  kind: token.kind,
  ...(token.kind === 'agent' ? { hostId: token.hostId } : {}),
  ...(token.label === undefined ? {} : { label: token.label }),
  createdAt: token.createdAt,
});

export const mintToken = async (
  deps: MintDeps,
  grant: TokenGrant,
  label: string | undefined,
): Promise<MintedToken> => {
  const createdAt = new Date(deps.now()).toISOString();
  for (let attempt = 0; attempt < MINT_ATTEMPTS; attempt += 1) {
    const token = deps.newSecret();
    const hash = hashToken(token);
    const labelled = label === undefined ? {} : { label };
    const stored: StoredToken =
      grant.kind === 'agent'
        ? { hash, kind: 'agent', hostId: grant.hostId, createdAt, ...labelled }
        : { hash, kind: 'operator', createdAt, ...labelled };
    if ((await deps.tokens.putToken(stored)) === 'ok') return { token, ...tokenSummary(stored) };
  }
  throw new InternalError({
    cause: new Error(`${MINT_ATTEMPTS} new token secrets collided with stored ones`),
  });
};

/** Where a page of the listing starts: after this token, in (createdAt, id) order. */
interface ListPosition {
  readonly createdAt: string;
  readonly id: string;
}

/** Ordinal, not by locale: RFC 3339 times in UTC and hex ids sort as their characters do. */
const ordinal = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const byAge = (a: ListPosition, b: ListPosition): number =>
  ordinal(a.createdAt, b.createdAt) || ordinal(a.id, b.id);

const encodeCursor = (last: TokenSummary): string =>
  Buffer.from(JSON.stringify([last.createdAt, last.id]), 'utf8').toString('base64url');

const decodeCursor = (cursor: string): ListPosition => {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [createdAt, id] = value as unknown[];
      if (typeof createdAt === 'string' && typeof id === 'string') return { createdAt, id };
    }
  } catch {
    // Not ours: answered below like any other cursor the listing did not give.
  }
  throw new InvalidRequestError('invalid cursor', [
    { path: ['query', 'cursor'], message: 'not a cursor from GET /v1/tokens', code: 'custom' },
  ]);
};

/**
 * One page of the tokens, oldest first. The cursor names the last token shown, not an offset, so
 * a token minted or revoked between two pages neither repeats nor hides another.
 */
export const listTokens = async (
  deps: ManageDeps,
  page: { readonly limit?: number | undefined; readonly cursor?: string | undefined },
): Promise<TokenList> => {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const limit = page.limit ?? TOKEN_PAGE.defaultLimit;
  const all = (await deps.tokens.listTokens()).map(tokenSummary).sort(byAge);
  const rest = after === undefined ? all : all.filter((token) => byAge(token, after) > 0);
  const tokens = rest.slice(0, limit);
  const last = tokens.at(-1);
  return { tokens, cursor: rest.length > limit && last !== undefined ? encodeCursor(last) : null };
};

/** Revokes the token named `id`; answers it as it was. 404 when unknown, 409 for the caller's own. */
export const revokeToken = async (deps: ManageDeps, id: string, by: Principal): Promise<TokenSummary> => {
  const token = (await deps.tokens.listTokens()).find((stored) => tokenIdOf(stored.hash) === id);
  if (token === undefined) throw new NotFoundError(`no token ${id}: see GET /v1/tokens`);
  if (by.tokenId === id) {
    throw new ConflictError(
      `${id} is the token making this request: revoke it with another operator token, so that one is left to act with`,
    );
  }
  await deps.tokens.deleteToken(token.hash);
  return tokenSummary(token);
};
