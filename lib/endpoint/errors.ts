/** Failures of the transport itself (the endpoint answered nothing usable), as opposed to HTTP statuses. */
import { Code, RestlessError, type ErrorOptions } from '../errors.js';

export interface TransportErrorOptions extends ErrorOptions {
  /** False when repeating the call cannot help (no such function, access denied). Default true. */
  retryable?: boolean;
}

/**
 * The endpoint could not be reached or did not answer: connection refused, stream reset, aborted
 * call, Lambda FunctionError. The driver retries these with backoff; discovery retries a few times.
 */
export class TransportError extends RestlessError {
  readonly retryable: boolean;

  constructor(message: string, options: TransportErrorOptions = {}) {
    super(Code.Unavailable, message, options);
    this.retryable = options.retryable ?? true;
  }
}

/** The role an endpoint is registered with could not be assumed (not trusted, not granted, throttled). */
export class EndpointCredentialsError extends TransportError {}
