import { FaultlineError } from '../../events/faultline-error.ts';

/**
 * Why a delivery could not happen. None is ever fatal to the agent, which keeps spooling.
 */

/** What failed on the way to the control plane. */
export type PublishErrorCode = 'proxy-refused' | 'proxy-unreachable' | 'credential-process-failed';

/** The base of the publisher's errors. */
export class PublishError extends FaultlineError<PublishErrorCode> {
  constructor(
    readonly code: PublishErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The proxy answered CONNECT with something other than 200, or could not be reached. */
export class ProxyTunnelError extends PublishError {
  constructor(
    readonly proxy: string,
    readonly target: string,
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(
      status === undefined ? 'proxy-unreachable' : 'proxy-refused',
      status === undefined
        ? `cannot reach the proxy ${proxy} to tunnel to ${target}`
        : `the proxy ${proxy} answered ${status} to CONNECT ${target}`,
      true,
      options,
    );
  }
}

/** The credential process (e.g. `aws_signing_helper credential-process`) failed or printed no credentials. */
export class CredentialProcessError extends PublishError {
  constructor(
    readonly command: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super('credential-process-failed', `credential process ${command}: ${detail}`, true, options);
  }
}
