/**
 * What the agent says about itself. The agent runs under systemd (or an init script on AIX), whose
 * journal stamps the time and the unit, so a line is the level, the message and, when there are
 * any, its fields as one JSON object that `journalctl -o cat | jq` can still read.
 */

export type LogLevel = 'info' | 'warn' | 'error';

export type LogFields = Readonly<Record<string, unknown>>;

/** The port every agent module logs through, so tests can capture lines instead of printing them. */
export interface AgentLog {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Formats one log line; exported so tests and the hook print the same shape. */
export const formatLogLine = (level: LogLevel, message: string, fields?: LogFields): string => {
  const suffix = fields === undefined || Object.keys(fields).length === 0 ? '' : ` ${safeJson(fields)}`;
  return `${level}: ${message}${suffix}\n`;
};

const safeJson = (fields: LogFields): string => {
  try {
    return JSON.stringify(fields, (_key, value: unknown) =>
      value instanceof Error ? { name: value.name, message: value.message } : value,
    );
  } catch {
    return '{"fields":"not serialisable"}';
  }
};

/** A log writing lines to a stream (stderr by default: stdout stays free for command output). */
export const streamLog = (
  write: (line: string) => void = (line) => process.stderr.write(line),
): AgentLog => ({
  info: (message, fields) => write(formatLogLine('info', message, fields)),
  warn: (message, fields) => write(formatLogLine('warn', message, fields)),
  error: (message, fields) => write(formatLogLine('error', message, fields)),
});

/** A captured log line, as `memoryLog` records it. */
export type LogLine = { level: LogLevel; message: string; fields?: LogFields };

/** A log that keeps its lines, for tests and for the hook's quiet mode. */
export const memoryLog = (): AgentLog & { readonly lines: LogLine[] } => {
  const lines: LogLine[] = [];
  const record =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      lines.push(fields === undefined ? { level, message } : { level, message, fields });
    };
  return { lines, info: record('info'), warn: record('warn'), error: record('error') };
};
