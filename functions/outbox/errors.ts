/**
 * Errors of the outbox (the decision protocol of docs/architecture.md §2). A lost race is not an error (the
 * decision is made again); what throws is a decision that kept losing, or a decision record that
 * cannot be what it claims (a bug or a hand-edited table).
 */

import { FaultlineError } from '../../events/faultline-error.ts';

export const OUTBOX_ERROR_CODES = ['decision-contended', 'decision-corrupt'] as const;
export type OutboxErrorCode = (typeof OUTBOX_ERROR_CODES)[number];

/** The base of every outbox error: one of `OUTBOX_ERROR_CODES`, retryable or not. */
export abstract class OutboxError extends FaultlineError<OutboxErrorCode> {}

/** A decision lost its race for its slices too many times in a row: try the input again later. */
export class DecisionContendedError extends OutboxError {
  readonly code = 'decision-contended' as const;
  readonly retryable = true;
  constructor(
    readonly decisionId: string,
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(`decision ${decisionId} lost its slices to other writers ${attempts} times`, options);
  }
}

/** A lock token or a decision record that does not parse. */
export class DecisionCorruptError extends OutboxError {
  readonly code = 'decision-corrupt' as const;
  readonly retryable = false;
}
