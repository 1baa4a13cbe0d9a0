import { correlateFromEnv } from '../lambda/correlate.ts';
import { createHandler } from './create-handler.ts';

/**
 * correlate's Lambda entry (infra bundles this file): the handler of create-handler.ts over the
 * cloud's adapters, wired by the composition root. The local runtime hosts `createHandler` from
 * create-handler.ts itself, so it never loads the composition root and the AWS SDK it brings.
 */
export type { CorrelateDeps, CorrelateSettings } from './create-handler.ts';
export { createHandler };
export const handler = createHandler(correlateFromEnv());
