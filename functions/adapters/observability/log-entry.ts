/**
 * One structured log line, as every handler writes it: a plain object with a `level` (`debug`,
 * `info`, `warn`, `error`; `info` when absent), a `message` (older entries say `msg`, or only
 * `detail`), the `service` that wrote it (api, correlate, notify, sweep, runtime), and fields.
 *
 * Two writers take it (docs/architecture.md §6 "Observability"): Powertools Logger in Lambda
 * (functions/lambda/observability.ts), and the local runtime, which writes the same JSON shape
 * ({@link jsonLogLine}: Powertools' `level` in capitals, `message`, `timestamp`, `service`, then
 * the fields) or, on a terminal at `info`, a readable line (local/terminal-log.ts).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogEntry = Readonly<Record<string, unknown>>;
export type Log = (entry: LogEntry) => void;

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export const isLogLevel = (value: unknown): value is LogLevel =>
  typeof value === 'string' && Object.hasOwn(RANK, value);

/** The entry's level; `info` when it names none (or none known). */
export const levelOf = (entry: LogEntry): LogLevel => (isLogLevel(entry.level) ? entry.level : 'info');

/** Whether an entry at `level` is written where the threshold is `threshold`. */
export const passes = (level: LogLevel, threshold: LogLevel): boolean => RANK[level] >= RANK[threshold];

/** A log that writes only the entries at `threshold` or above. */
export const atLevel =
  (log: Log, threshold: LogLevel): Log =>
  (entry) => {
    if (passes(levelOf(entry), threshold)) log(entry);
  };

/** An entry taken apart: its level, its message in words, its service, and its other fields. */
export interface SplitEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly service: string | undefined;
  readonly fields: Readonly<Record<string, unknown>>;
}

export const splitEntry = (entry: LogEntry): SplitEntry => {
  const { level: _level, message, msg, service, ...fields } = entry;
  const text =
    typeof message === 'string'
      ? message
      : typeof msg === 'string'
        ? msg
        : typeof fields.detail === 'string'
          ? fields.detail
          : typeof fields.outcome === 'string'
            ? fields.outcome
            : '';
  return {
    level: levelOf(entry),
    message: text,
    service: typeof service === 'string' ? service : undefined,
    fields,
  };
};

/** The entry as one JSON line of Powertools Logger's shape (without its Lambda context fields). */
export const jsonLogLine = (entry: LogEntry, now: Date, defaultService = 'faultline'): string => {
  const { level, message, service, fields } = splitEntry(entry);
  return JSON.stringify({
    level: level.toUpperCase(),
    message,
    timestamp: now.toISOString(),
    service: service ?? defaultService,
    ...fields,
  });
};
