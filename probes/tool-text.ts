/**
 * What every probe parser shares: how tool output is cut into lines and how a line that does not
 * fit is reported. Parsers never throw on their input; whatever they cannot read becomes a
 * {@link ProbeWarning} in their result, so one garbled line costs one line, never the snapshot.
 */

/** A line a parser skipped, with why, so an operator can see what the agent could not read. */
export type ProbeWarning = {
  /** 1-based line number in the text given to the parser; 0 when the warning is about the whole text. */
  line: number;
  /** The offending line, trimmed and cut to {@link WARNING_TEXT_LIMIT} characters. */
  text: string;
  reason: string;
};

/** Longest excerpt of a skipped line a warning keeps: enough to recognise it, never a whole file. */
export const WARNING_TEXT_LIMIT = 160;

/** Most warnings one parse collects; past this the text is garbage and more lines add nothing. */
export const WARNING_COUNT_LIMIT = 200;

/** One line of tool output with its 1-based number. */
export type ToolLine = { number: number; text: string };

/**
 * Splits tool output into lines as the tools print them: `\n`, `\r\n` or a stray `\r` (a capture
 * made through a terminal), trailing spaces and TABs kept so column layouts survive.
 */
export const toolLines = (text: string): ToolLine[] =>
  text.split(/\r\n|\r|\n/).map((line, index) => ({ number: index + 1, text: line }));

/** Collects warnings up to {@link WARNING_COUNT_LIMIT}. */
export class WarningLog {
  readonly warnings: ProbeWarning[] = [];
  #dropped = 0;

  add(line: number, text: string, reason: string): void {
    if (this.warnings.length >= WARNING_COUNT_LIMIT) {
      this.#dropped += 1;
      return;
    }
    this.warnings.push({ line, text: excerpt(text), reason });
  }

  /** The warnings, with one more saying how many were dropped past the limit. */
  collect(): ProbeWarning[] {
    if (this.#dropped === 0) return this.warnings;
    return [
      ...this.warnings,
      { line: 0, text: '', reason: `${this.#dropped} more lines skipped (warning limit reached)` },
    ];
  }
}

const excerpt = (text: string): string => {
  const trimmed = text.trim();
  return trimmed.length > WARNING_TEXT_LIMIT ? `${trimmed.slice(0, WARNING_TEXT_LIMIT)}…` : trimmed;
};

/**
 * A `Key : value` line as mdadm prints it, split at the first colon with both sides trimmed, or
 * null when the key is not a short run of words. Done by hand, not by one regular expression,
 * so a line of many thousand spaces costs one pass.
 */
export const keyValue = (line: string): { key: string; value: string } | null => {
  const colon = line.indexOf(':');
  if (colon <= 0) return null;
  const key = line.slice(0, colon).trim();
  if (key.length > KEY_LIMIT || !/^[A-Za-z][A-Za-z '/.-]*$/.test(key)) return null;
  return { key, value: line.slice(colon + 1).trim() };
};

/** Longest key of a `Key : value` line: mdadm's longest is `Consistency Policy`. */
const KEY_LIMIT = 40;

/** A number from tool text, or null when the text is not a finite decimal number. */
export const toNumber = (text: string | undefined): number | null => {
  if (text === undefined || !/^\d+(?:\.\d+)?$/.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
};

/** A non-negative safe integer from tool text, or null. */
export const toCount = (text: string | undefined): number | null => {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return null;
  return Number(text);
};
