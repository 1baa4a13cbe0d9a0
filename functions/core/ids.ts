import * as crypto from 'node:crypto';

/**
 * A digest of a text (UTF-8), as `createHash(algorithm).update(text).digest(encoding)` gives it:
 * with Node's one-shot `crypto.hash` where it has one (20.12 and later), which makes no Hash object.
 */
export const textDigest = (algorithm: 'sha1' | 'sha256', text: string, encoding: 'hex' | 'base64'): string =>
  typeof crypto.hash === 'function'
    ? crypto.hash(algorithm, text, encoding)
    : crypto.createHash(algorithm).update(text).digest(encoding);

/**
 * Ids derived from their inputs: the same incident, host and attempt always give the same plan id,
 * so a replay, a redelivered event or a retried write produces the same ids and never a twin.
 * (SHA-256 is used as a pure function here; nothing random.)
 */
export const deriveId = (prefix: 'inc' | 'pln' | 'ntf', ...parts: readonly (string | number)[]): string =>
  `${prefix}-${textDigest('sha256', parts.join('\u0000'), 'hex').slice(0, 20)}`;

/** 64-bit FNV-1a's offset basis and prime (0x100000001b3 = 2^40 + 0x1b3), in 32-bit halves. */
const FNV_OFFSET_HIGH = 0xcbf29ce4;
const FNV_OFFSET_LOW = 0x84222325;
const FNV_PRIME_LOW = 0x1b3;
const TWO_32 = 0x1_0000_0000;

/**
 * A timeline row's id: 64-bit FNV-1a of its inputs. Timeline rows are many (one per host joining,
 * per plan, per step of an incident) and their ids only need to be stable and distinct within an
 * incident, so a cheaper hash serves where a SHA-256 per row would cost more than the row. The
 * 64-bit product is taken in two 32-bit halves (no BigInt per character): the same value.
 */
export const timelineId = (...parts: readonly (string | number)[]): string => {
  let high = FNV_OFFSET_HIGH;
  let low = FNV_OFFSET_LOW;
  // The parts joined by U+0000, hashed as they come rather than joined first.
  for (let part = 0; part < parts.length; part += 1) {
    // As `join` reads a part: nothing for null or undefined.
    const text = String(parts[part] ?? '');
    for (let index = part === 0 ? 0 : -1; index < text.length; index += 1) {
      const xored = (low ^ (index < 0 ? 0 : text.charCodeAt(index))) >>> 0;
      // (high·2^32 + xored) · (2^40 + 0x1b3) mod 2^64: xored·0x1b3 (< 2^41, exact) carries into
      // high, xored·2^40 adds xored·2^8 to high, and high·2^40 leaves 64 bits.
      const product = xored * FNV_PRIME_LOW;
      const carry = Math.floor(product / TWO_32);
      low = product - carry * TWO_32;
      high = (Math.imul(high, FNV_PRIME_LOW) + carry + (xored << 8)) >>> 0;
    }
  }
  return `tln-${hex8(high)}${hex8(low)}`;
};

/** Two lowercase hex digits per byte value. */
const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** A 32-bit value as eight lowercase hex digits: `value.toString(16).padStart(8, '0')`. */
const hex8 = (value: number): string =>
  (HEX_BYTES[value >>> 24] as string) +
  (HEX_BYTES[(value >>> 16) & 0xff] as string) +
  (HEX_BYTES[(value >>> 8) & 0xff] as string) +
  (HEX_BYTES[value & 0xff] as string);
