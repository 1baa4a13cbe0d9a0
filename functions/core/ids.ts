import { createHash } from 'node:crypto';

/**
 * Ids derived from their inputs: the same incident, host and attempt always give the same plan id,
 * so a replay, a redelivered event or a retried write produces the same ids and never a twin.
 * (SHA-256 is used as a pure function here; nothing random.)
 */
export const deriveId = (
  prefix: 'inc' | 'pln' | 'ntf' | 'tln',
  ...parts: readonly (string | number)[]
): string => `${prefix}-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 20)}`;
