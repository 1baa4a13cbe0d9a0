import {
  jsonLogLine,
  type Log,
  type LogLevel,
  passes,
  splitEntry,
} from '../functions/adapters/observability/log-entry.ts';

/**
 * The local runtime's log on a terminal (`faultline up --log-level info|debug|warn`), over the one
 * structured entry every handler writes (functions/adapters/observability/log-entry.ts):
 *
 * - `info` (the default): one readable line per incident change and per page, `HH:MM:SS  <incident
 *   id>  <what happened>` (opened, down, up, canary, wave N, host healthy, halted, escalated,
 *   resolved, paged or kept in the timeline), and the runtime's own news as `HH:MM:SS  <service>:
 *   <message>`. The handlers' `debug` lines (one JSON record per decision) are left out.
 * - `debug`: every entry as one JSON line in Powertools Logger's shape, the same as on Lambda.
 * - `warn`: only warnings and errors.
 *
 * Warnings and errors go to stderr as JSON lines at every level, so a script can read them.
 */

export interface TerminalLogOptions {
  readonly level: LogLevel;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now?: () => Date;
}

/** The time of a line, in UTC as everywhere else Faultline shows a time (the page, the CLI). */
const clock = (at: Date): string => at.toISOString().slice(11, 19);

/**
 * Text as a terminal shows it, never as it obeys it: every control character (C0, DEL, C1) written
 * as `\xNN`. What agents and operators send (a reason, a host's text) reaches these lines, and an
 * escape sequence in it must not clear the screen or forge a line.
 */
export const printable = (text: string): string =>
  text.replace(/\p{Cc}/gu, (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** The readable line of an info entry: an incident change, or the runtime's own news. */
export const readableLine = (entry: Readonly<Record<string, unknown>>, at: Date): string => {
  const { message, service, fields } = splitEntry(entry);
  const incident = typeof fields.incident === 'string' ? fields.incident : undefined;
  if (incident !== undefined && typeof fields.change === 'string')
    return `${clock(at)}  ${printable(incident)}  ${printable(message)}`;
  return `${clock(at)}  ${printable(service ?? 'faultline')}: ${printable(message)}`;
};

export const terminalLog = (options: TerminalLogOptions): Log => {
  const now = options.now ?? (() => new Date());
  return (entry) => {
    const { level } = splitEntry(entry);
    if (!passes(level, options.level)) return;
    const at = now();
    if (level === 'warn' || level === 'error') options.stderr(`${jsonLogLine(entry, at)}\n`);
    else if (options.level === 'debug') options.stdout(`${jsonLogLine(entry, at)}\n`);
    else options.stdout(`${readableLine(entry, at)}\n`);
  };
};
