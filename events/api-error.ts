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
