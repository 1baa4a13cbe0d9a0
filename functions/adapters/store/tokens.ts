import { createHash, randomBytes } from 'node:crypto';

/**
 * Bearer tokens (docs/architecture.md §6): the secret goes to its holder once and only its SHA-256 is
 * stored, so a copy of the table or the SQLite file grants nothing. SHA-256 without a salt is
 * enough here because the secret is 32 random bytes, not a password: nothing to guess.
 */

/** The stored form of a bearer token: lowercase hex SHA-256 of its UTF-8 text. */
export const hashToken = (secret: string): string =>
  createHash('sha256').update(secret, 'utf8').digest('hex');

/** A new secret: `flt_` and 32 random bytes, base64url (the prefix lets secret scanners find leaks). */
export const newTokenSecret = (): string => `flt_${randomBytes(32).toString('base64url')}`;

/** How many hex digits of the hash of the hash name a token. */
const TOKEN_ID_DIGITS = 16;

/**
 * The id a token is listed and revoked by (`tok-` and 16 hex digits), from its stored hash: a hash
 * of the hash, so it is neither the secret nor the key a lookup takes, and the same on every store.
 */
export const tokenIdOf = (hash: string): string =>
  `tok-${createHash('sha256').update(hash, 'utf8').digest('hex').slice(0, TOKEN_ID_DIGITS)}`;
