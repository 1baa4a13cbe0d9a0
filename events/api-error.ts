import { z } from 'zod';
import { Code } from './names.ts';
import { Issue } from './parse.ts';

/** The body of every API error (§6): a stable code, a message for people, and the input issues. */
export const ApiError = z.object({
  error: z.object({
    code: Code,
    message: z.string(),
    issues: z.array(Issue).optional(),
  }),
});
export type ApiError = z.infer<typeof ApiError>;

/**
 * A `Retry-After` header in milliseconds from `now` (RFC 9110 §10.2.3: delta-seconds, or an HTTP
 * date in any of its forms, each of which starts with the day's name), or undefined when absent or
 * unreadable. The API sends it with 429 and 503; the agents wait by it, and so does notify with the
 * destinations' own 429s.
 */
export const retryAfterMs = (header: string | null | undefined, now: number): number | undefined => {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
};
