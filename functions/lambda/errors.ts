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

/**
 * A secret a function reads at run time (notify's configuration) could not be read: named by its
 * ARN and the service's error name (`AccessDeniedException`, `ResourceNotFoundException`,
 * `ThrottlingException`...), never by its value. Retryable: a throttle or an outage passes, and a
 * fixed permission or a restored secret is read on the next try.
 */
export class SecretUnavailableError extends FaultlineError<'secret-unavailable'> {
  readonly code = 'secret-unavailable' as const;
  readonly retryable = true;
  constructor(
    readonly secretArn: string,
    /** The service's (or the network's) error name. */
    readonly errorName: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
