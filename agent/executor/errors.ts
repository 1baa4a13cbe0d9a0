import { FaultlineError } from '../../events/faultline-error.ts';

/**
 * What can go wrong around the executor (as opposed to a refused precondition, which is an
 * outcome, not an error). None is fatal to the agent: the plan loop logs it and polls again.
 */

/** What failed around the executor. */
export type ExecutorErrorCode = 'tool-missing' | 'plan-fetch-failed' | 'ledger-unavailable';

/** The base of the executor's errors; whether one is retryable depends on the failure, not only its class. */
export class ExecutorError extends FaultlineError<ExecutorErrorCode> {
  constructor(
    readonly code: ExecutorErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A program the executor needs is not on its search path. */
export class ToolMissingError extends ExecutorError {
  constructor(
    readonly program: string,
    readonly searchPath: readonly string[],
  ) {
    super('tool-missing', `${program} is not on the search path (${searchPath.join(':')})`, false);
  }
}

/** `GET /v1/agents/:hostId/plans` did not answer with plans. */
export class PlanFetchError extends ExecutorError {
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      'plan-fetch-failed',
      `GET ${url}: ${status === undefined ? detail : `${status} ${detail}`}`,
      status === undefined || status >= 500 || status === 401 || status === 403 || status === 429,
      options,
    );
  }
}

/** Neither state directory can hold the plan ledger durably. */
export class LedgerUnavailableError extends ExecutorError {
  constructor(reason: string, options?: ErrorOptions) {
    super('ledger-unavailable', `no writable directory for the plan ledger: ${reason}`, true, options);
  }
}
