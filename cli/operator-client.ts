import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { issuesText, parseWith } from '../events/index.ts';
import { printable } from '../local/terminal-log.ts';

/**
 * What every operator command shares (docs/architecture.md §6): where the control plane is and
 * which token to send (`--url`/`--token`, else `FAULTLINE_URL`/`FAULTLINE_TOKEN`, else the files
 * `faultline up` writes in its data folder), one call to its API with clear errors, answers read
 * through the API's own schemas, and plain tables. Exit codes: 1 the API refused or failed, 2 a
 * usage error, 3 the control plane does not answer, 4 it refused the token.
 */

export const OperatorEnvironment = z.object({
  FAULTLINE_URL: z.url().optional(),
  FAULTLINE_TOKEN: z.string().min(1).optional(),
  FAULTLINE_DATA: z.string().min(1).optional(),
});
export type OperatorEnvironment = z.infer<typeof OperatorEnvironment>;

export const DEFAULT_URL = 'http://127.0.0.1:8787';
export const DEFAULT_DATA = '.faultline';
/** Files `faultline up` leaves in its data folder for the operator commands on the same machine. */
export const DATA_FILES = { url: 'url', operatorToken: 'operator-token' } as const;

export const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3, tokenRefused: 4 } as const;

/** A failure an operator command reports on stderr, with its exit code. */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** A usage error: the command line is wrong, the message says how (exit 2, with the usage). */
export class UsageError extends OperatorError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

export type Connection = { url: string; token: string | undefined };

const readIfPresent = (path: string): string | undefined =>
  existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;

export const connectionOf = (
  values: { url?: string | undefined; token?: string | undefined; data?: string | undefined },
  env: OperatorEnvironment,
): Connection => {
  const data = values.data ?? env.FAULTLINE_DATA ?? DEFAULT_DATA;
  return {
    url: (
      values.url ??
      env.FAULTLINE_URL ??
      readIfPresent(join(data, DATA_FILES.url)) ??
      DEFAULT_URL
    ).replace(/\/$/, ''),
    token: values.token ?? env.FAULTLINE_TOKEN ?? readIfPresent(join(data, DATA_FILES.operatorToken)),
  };
};

/** One call to the API; a refusal or failure is an {@link OperatorError} naming the code, message and issues. */
export const call = async (
  connection: Connection,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> => {
  let response: Response;
  try {
    response = await fetch(`${connection.url}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(connection.token === undefined ? {} : { authorization: `Bearer ${connection.token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new OperatorError(
      `the control plane is not answering at ${connection.url} (${(error as Error).cause ?? (error as Error).message}); start it with \`npm start\` or point --url at it`,
      EXIT.unreachable,
    );
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: reported as text below
  }
  if (response.status === 401) {
    throw new OperatorError(
      'the control plane refused the token: pass --token or set FAULTLINE_TOKEN to the operator token `faultline up` printed',
      EXIT.tokenRefused,
    );
  }
  if (!response.ok) {
    const error = (
      parsed as {
        error?: { code?: string; message?: string; issues?: { path: unknown[]; message: string }[] };
      }
    )?.error;
    const issues = (error?.issues ?? [])
      .map((issue) => `\n  ${issue.path.join('.') || '(body)'}: ${issue.message}`)
      .join('');
    throw new OperatorError(
      `${response.status} ${error?.code ?? ''}: ${error?.message ?? text}${issues}`,
      EXIT.failure,
    );
  }
  return parsed;
};

/** An answer read through the API's own schema (events/api.ts): a mismatch is an error, not a guess. */
export const answer = <S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> => {
  const parsed = parseWith(schema, value);
  if (parsed.ok) return parsed.value;
  throw new OperatorError(
    `${what} answered outside the API's contract: ${issuesText(parsed.issues)}`,
    EXIT.failure,
  );
};

const pad = (text: string, width: number): string =>
  text.length >= width ? text : text + ' '.repeat(width - text.length);

/**
 * A plain table: a header, then one row per item, columns as wide as their widest cell; each cell
 * {@link printable}, so a control character an agent sent is shown, never obeyed.
 */
export const table = (header: readonly string[], unsafeRows: readonly (readonly string[])[]): string => {
  const rows = unsafeRows.map((row) => row.map(printable));
  const widths = header.map((title, index) =>
    Math.max(title.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => (index === cells.length - 1 ? cell : pad(cell, widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
};

/** A parsed command line as one operator command reads it. */
export interface CommandContext {
  readonly connection: Connection;
  /** The words after the command (`create`, `vios2`), options removed. */
  readonly positionals: readonly string[];
  /** A string option's value. */
  readonly text: (name: string) => string | undefined;
  /** Every value of a repeatable option (`--serves a --serves b`, or `--serves a b`). */
  readonly list: (name: string) => readonly string[];
  readonly flag: (name: string) => boolean;
  /** Prints `value` as JSON with `--json`, else what `human` writes. */
  readonly print: (value: unknown, human: () => string) => void;
  /** Tells the operator something beside the answer (on stderr), so stdout stays the answer alone. */
  readonly note: (text: string) => void;
}
