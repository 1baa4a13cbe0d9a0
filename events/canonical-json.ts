/**
 * A canonical JSON serialisation: object keys sorted by code unit, no whitespace, `undefined`
 * members omitted, arrays in order. The same value gives the same bytes on every machine, which
 * is what plan signatures and derived ids are computed over.
 *
 * Written as one pass that appends to a string, without a throw-away array per object or list:
 * the outbox signs every plan of a wave through it, a thousand at once at the widest.
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new TypeError('canonical JSON has no representation for a non-finite number');
    }
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`canonical JSON has no representation for ${typeof value}`);
    return text;
  }
  if (Array.isArray(value)) {
    let text = '[';
    for (let index = 0; index < value.length; index += 1) {
      if (index > 0) text += ',';
      // A hole stays empty, as `Array.prototype.map` then `join` leave it.
      if (!(index in value)) continue;
      const element: unknown = value[index];
      text += element === undefined ? 'null' : canonicalJson(element);
    }
    return `${text}]`;
  }
  const record = value as Record<string, unknown>;
  let text = '{';
  let first = true;
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    text += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
    first = false;
  }
  return `${text}}`;
};
