import { FaultlineError } from '../events/faultline-error.ts';

/**
 * Why `faultline demo` stopped: each error says what to do, and maps to the process exit code
 * (the operator commands use the same codes: 3 the control plane does not answer, 4 the token is
 * refused).
 */

export type DemoErrorCode =
  | 'control-plane-unreachable'
  | 'token-refused'
  | 'api-error'
  | 'sink-port-busy'
  | 'timed-out'
  | 'not-healed'
  | 'invalid-option';

const EXIT_CODES: Readonly<Record<DemoErrorCode, number>> = {
  'control-plane-unreachable': 3,
  'token-refused': 4,
  'api-error': 1,
  'sink-port-busy': 1,
  'timed-out': 1,
  'not-healed': 1,
  'invalid-option': 2,
};

/** The one error of the demo, with a literal `code` that says how the process exits. */
export class DemoError extends FaultlineError<DemoErrorCode> {
  readonly retryable = false;
  constructor(
    readonly code: DemoErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}
