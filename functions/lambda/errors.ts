import { FaultlineError } from '../../events/faultline-error.ts';

/**
 * Errors of the Lambda composition roots: an environment that does not validate. Nothing runs
 * until it is fixed, so it is not retryable; each problem is named, one line each.
 */
export class RuntimeConfigError extends FaultlineError<'config-invalid'> {
  readonly code = 'config-invalid' as const;
  readonly retryable = false;
  constructor(
    message: string,
    /** One line per problem: `FAULTLINE_STORE: ...`. */
    readonly problems: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(problems.length === 0 ? message : `${message}: ${problems.join('; ')}`, options);
  }
}
