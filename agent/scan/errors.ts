import { FaultlineError } from '../../events/faultline-error.ts';

/**
 * Errors of the probes. Parsers never throw on tool output (what they cannot read is a warning);
 * these are for a scan that cannot run at all: options that name no valid host, or a snapshot that
 * would not validate (a bug, reported with the zod issues as its cause rather than sent on).
 */
export type ProbeErrorCode = 'invalid-scan-options' | 'invalid-snapshot';

/** The one error a scan throws, with a literal `code` callers switch on. */
export class ProbeError extends FaultlineError<ProbeErrorCode> {
  /** Scanning again will not help: the options or the code must change. */
  readonly retryable = false;

  constructor(
    readonly code: ProbeErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
