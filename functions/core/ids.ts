import { createHash } from 'node:crypto';

/**
 * Ids derived from their inputs: the same incident, host and attempt always give the same plan id,
 * so a replay, a redelivered event or a retried write produces the same ids and never a twin.
 * (SHA-256 is used as a pure function here; nothing random.)
 */
export const deriveId = (prefix: 'inc' | 'pln' | 'ntf', ...parts: readonly (string | number)[]): string =>
  `${prefix}-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 20)}`;

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;

/**
 * A timeline row's id: 64-bit FNV-1a of its inputs. Timeline rows are many (one per host joining,
 * per plan, per step of an incident) and their ids only need to be stable and distinct within an
 * incident, so a cheaper hash serves where a SHA-256 per row would cost more than the row.
 */
export const timelineId = (...parts: readonly (string | number)[]): string => {
  let hash = FNV_OFFSET;
  const text = parts.join('\u0000');
  for (let index = 0; index < text.length; index += 1) {
    hash ^= BigInt(text.charCodeAt(index));
    hash = (hash * FNV_PRIME) & MASK_64;
  }
  return `tln-${hash.toString(16).padStart(16, '0')}`;
};
