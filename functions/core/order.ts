/**
 * Sorting the few items the hot path sorts (a host's two arrays, the two domains of a mirror)
 * without the scratch space Array#sort allocates on every call, which a decision per event adds up.
 */

/** Lists this long or shorter are sorted by insertion; longer ones by Array#sort. */
const SHORT = 8;

/**
 * `values.sort()` for strings, in place: code-unit order. Strings are totally ordered and equal
 * ones cannot be told apart, so an insertion sort gives exactly Array#sort's result.
 */
export const sortStrings = (values: string[]): string[] => {
  if (values.length > SHORT) return values.sort();
  for (let index = 1; index < values.length; index += 1) {
    const value = values[index] as string;
    let before = index - 1;
    while (before >= 0 && (values[before] as string) > value) {
      values[before + 1] = values[before] as string;
      before -= 1;
    }
    values[before + 1] = value;
  }
  return values;
};

/** `values.sort(compare)`, in place, skipping the call for a list of fewer than two items. */
export const sortWith = <T>(values: T[], compare: (a: T, b: T) => number): T[] =>
  values.length < 2 ? values : values.sort(compare);

/**
 * `values.sort(compare)`, in place, for a comparator that is a consistent order (0 for items it
 * ranks equal, and transitive): an insertion sort for a short list, stable as Array#sort is, so the
 * same result.
 */
export const sortByConsistent = <T>(values: T[], compare: (a: T, b: T) => number): T[] => {
  if (values.length > SHORT) return values.sort(compare);
  for (let index = 1; index < values.length; index += 1) {
    const value = values[index] as T;
    let before = index - 1;
    while (before >= 0 && compare(values[before] as T, value) > 0) {
      values[before + 1] = values[before] as T;
      before -= 1;
    }
    values[before + 1] = value;
  }
  return values;
};

/** The distinct strings of `values`, sorted: `[...new Set(values)].sort()`. */
export const uniqueSorted = (values: Iterable<string>): string[] => sortStrings([...new Set(values)]);

/** An object's keys, sorted: `Object.keys(record).sort()`. */
export const sortedKeys = (record: object): string[] => sortStrings(Object.keys(record));

/** Sorts `[key, value]` pairs by key (keys of one object: distinct). */
export const byKey = <T>(entries: [string, T][]): [string, T][] =>
  sortWith(entries, ([a], [b]) => (a < b ? -1 : 1));

/**
 * `{ ...source }` for the plain JSON data of slices (no symbols, no accessors), `{}` for undefined:
 * the same keys in the same order, copied one by one. Slices and their maps come in many shapes,
 * which sends a spread down V8's slow generic path; this copy costs a fraction of it.
 */
export const shallowCopy = <T extends object>(source: T | undefined): T => {
  const copy: Record<string, unknown> = {};
  if (source === undefined) return copy as T;
  const keys = Object.keys(source);
  for (let index = 0; index < keys.length; index += 1) {
    const key = keys[index] as string;
    // Assigning `__proto__` would set the prototype, where a spread makes an own property.
    if (key === '__proto__') return { ...source };
    copy[key] = (source as Record<string, unknown>)[key];
  }
  return copy as T;
};

/** `record[key] = value` as `Object.fromEntries` defines it: an own property, `__proto__` too. */
export const putEntry = <T>(record: Record<string, T>, key: string, value: T): void => {
  if (key === '__proto__')
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  else record[key] = value;
};

/**
 * An empty record for entries keyed by ids (hosts, incidents, plans): a plain object, in V8's
 * dictionary mode from the start. Keys added to a fresh `{}` one by one make a hidden class per new
 * first key, hung off the one shared by every `{}`; ten thousand host ids fill that table, after
 * which every object given a key not seen before gets a hidden class of its own (slow to make,
 * slow to copy, and kept). The same object to JavaScript: same prototype, same keys in the same order.
 */
export const emptyRecord = <T>(): Record<string, T> => {
  const record: Record<string, unknown> = { dictionary: 0, mode: 0 };
  // Deleting a property other than the last one added turns the object into a dictionary.
  delete record.dictionary;
  delete record.mode;
  return record as Record<string, T>;
};
