import { notifyFromEnv } from '../lambda/notify.ts';
import { createHandler } from './create-handler.ts';

/**
 * notify's Lambda entry (infra bundles this file): the handler of create-handler.ts over the
 * cloud's adapters, wired by the composition root. The local runtime hosts `createHandler` from
 * create-handler.ts itself, so it never loads the composition root and the AWS SDK it brings.
 * Lambda calls `handler(event, context)`: the context's `getRemainingTimeInMillis()` is how each
 * delivery's lease ends before the function's timeout (create-handler.ts `NotifyInvocation`).
 */
export type { NotifyDeps } from './create-handler.ts';
export { createHandler };
export const handler = createHandler(notifyFromEnv());
