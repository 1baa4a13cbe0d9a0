import type { StoredToken, TokenStore } from '../adapters/store/port.ts';
import { hashToken } from '../adapters/store/tokens.ts';
import { InternalError } from './errors.ts';

/**
 * Minting bearer tokens (`POST /v1/tokens`, operators only). The secret is returned once, in the
 * answer, and only its SHA-256 is stored: a lost token is replaced, never recovered.
 */

export type TokenGrant = { readonly kind: 'agent'; readonly hostId: string } | { readonly kind: 'operator' };

export interface MintedToken {
  readonly token: string;
  readonly kind: 'agent' | 'operator';
  readonly hostId?: string;
  readonly label?: string;
  readonly createdAt: string;
}

export interface MintDeps {
  readonly tokens: Pick<TokenStore, 'putToken'>;
  readonly now: () => number;
  readonly newSecret: () => string;
}

/** A hash collision of 32 random bytes does not happen; a secret generator that repeats itself does. */
const MINT_ATTEMPTS = 3;

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
    if ((await deps.tokens.putToken(stored)) === 'ok') {
      return grant.kind === 'agent'
        ? { token, kind: 'agent', hostId: grant.hostId, createdAt, ...labelled }
        : { token, kind: 'operator', createdAt, ...labelled };
    }
  }
  throw new InternalError({
    cause: new Error(`${MINT_ATTEMPTS} new token secrets collided with stored ones`),
  });
};
