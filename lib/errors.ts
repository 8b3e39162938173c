/**
 * The one error module: every failure the runtime reports carries a Connect/gRPC code, and the
 * code → HTTP status mapping lives here and nowhere else.
 */

/** gRPC status codes (the numbers travel in the service protocol's Failure.code). */
export const Code = {
  Ok: 0,
  Cancelled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const CONNECT_NAMES: Record<Code, string> = {
  0: 'ok',
  1: 'canceled',
  2: 'unknown',
  3: 'invalid_argument',
  4: 'deadline_exceeded',
  5: 'not_found',
  6: 'already_exists',
  7: 'permission_denied',
  8: 'resource_exhausted',
  9: 'failed_precondition',
  10: 'aborted',
  11: 'out_of_range',
  12: 'unimplemented',
  13: 'internal',
  14: 'unavailable',
  15: 'data_loss',
  16: 'unauthenticated',
};

/** A code from the wire: anything outside 0..16 is UNKNOWN (as the 0.x runtime did). */
export function toCode(n: number): Code {
  return Number.isInteger(n) && n >= 0 && n <= 16 ? (n as Code) : Code.Unknown;
}

/** Connect protocol name of a code, e.g. `not_found`. */
export function connectCodeName(code: Code): string {
  return CONNECT_NAMES[code];
}

/** HTTP status for a code (Connect mapping of the 0.x ingress, docs/protocol.md §6.7). */
export function httpStatusFor(code: Code): number {
  switch (code) {
    case Code.Ok:
      return 200;
    case Code.Cancelled:
      return 408;
    case Code.InvalidArgument:
      return 400;
    case Code.DeadlineExceeded:
      return 408;
    case Code.NotFound:
      return 404;
    case Code.AlreadyExists:
      return 409;
    case Code.PermissionDenied:
      return 403;
    case Code.Unauthenticated:
      return 401;
    case Code.ResourceExhausted:
      return 429;
    case Code.FailedPrecondition:
      return 412;
    case Code.Aborted:
      return 409;
    case Code.OutOfRange:
      return 400;
    case Code.Unimplemented:
      return 501;
    case Code.Unavailable:
      return 503;
    case Code.Unknown:
    case Code.Internal:
    case Code.DataLoss:
      return 500;
  }
}

export interface ErrorOptions {
  cause?: unknown;
  /** Overrides the status the code maps to (e.g. 415 or 422, which have no code of their own). */
  httpStatus?: number;
  /** Admin API `restate_code`, e.g. `META0004`. */
  restateCode?: string;
  /** Response headers the answer must carry (e.g. `allow` with a 405). */
  headers?: Record<string, string>;
}

/** Base class of every error the runtime turns into a response. */
export class RestlessError extends Error {
  readonly code: Code;
  readonly httpStatus: number;
  readonly restateCode: string | undefined;
  readonly headers: Record<string, string>;

  constructor(code: Code, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = options.httpStatus ?? httpStatusFor(code);
    this.restateCode = options.restateCode;
    this.headers = options.headers ?? {};
  }
}

export class NotFoundError extends RestlessError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(Code.NotFound, message, options);
  }
}

export class InvalidArgumentError extends RestlessError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(Code.InvalidArgument, message, options);
  }
}

export class PermissionDeniedError extends RestlessError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(Code.PermissionDenied, message, options);
  }
}

export class ConflictError extends RestlessError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(Code.AlreadyExists, message, options);
  }
}

/** The service protocol was violated by an endpoint (bad frame, unknown message type, …). */
export class ProtocolError extends RestlessError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(Code.Internal, message, options);
  }
}

/** A conditional write lost: another attempt (or a newer epoch) owns the record. */
export class FencedError extends RestlessError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(Code.Aborted, message, options);
  }
}

/** A body over a size limit: 413 on Connect and the admin API, RESOURCE_EXHAUSTED on gRPC. */
export class PayloadTooLargeError extends RestlessError {
  readonly limit: number;

  /** `what` names the thing measured, e.g. "the request body" or "the decompressed message". */
  constructor(what: string, limit: number, options: ErrorOptions = {}) {
    super(Code.ResourceExhausted, `${what} is larger than the limit of ${limit} bytes`, { httpStatus: 413, ...options });
    this.limit = limit;
  }
}

/**
 * A request compressed with an encoding the server does not speak. The Connect and gRPC specs
 * answer UNIMPLEMENTED and list the accepted encodings (`accept-encoding` on Connect,
 * `grpc-accept-encoding` on gRPC); each protocol adds its own header from `accepted`.
 */
export class UnsupportedEncodingError extends RestlessError {
  readonly accepted: readonly string[];

  constructor(encoding: string, accepted: readonly string[], options: ErrorOptions = {}) {
    super(Code.Unimplemented, `unknown compression '${encoding}': supported encodings are ${accepted.join(', ')}`, options);
    this.accepted = accepted;
  }
}

/** A method the route does not offer: 405 with `Allow`. */
export class MethodNotAllowedError extends RestlessError {
  constructor(message: string, allow: readonly string[], options: ErrorOptions = {}) {
    super(Code.Unimplemented, message, { httpStatus: 405, ...options, headers: { allow: allow.join(', '), ...options.headers } });
  }
}

/** A content type (or charset) the route cannot read: 415. */
export class UnsupportedMediaTypeError extends RestlessError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(Code.InvalidArgument, message, { httpStatus: 415, ...options });
  }
}

/** The runtime was started without settings it needs (a missing environment variable, say). */
export class ConfigurationError extends RestlessError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(Code.FailedPrecondition, message, { httpStatus: 500, ...options });
  }
}

/** Wraps anything into a RestlessError; unknown failures become INTERNAL with a neutral message. */
export function asRestlessError(err: unknown): RestlessError {
  if (err instanceof RestlessError) return err;
  return new RestlessError(Code.Internal, 'internal error', { cause: err });
}

/**
 * Exit codes of the `restless` CLI, so scripts tell success from each kind of failure. HTTP
 * answers of the admin API map onto them in `exitCodeForStatus`, the only place that decides.
 */
export const ExitCode = {
  Ok: 0,
  /** The server failed (5xx), or the invocation asked about ended with a failure. */
  Failed: 1,
  /** Wrong command line (unknown command or flag, missing argument). */
  Usage: 2,
  /** Nothing answered at the admin or ingress URL. */
  Unreachable: 3,
  NotFound: 4,
  /** The request was refused (400, 403, 409, 412…): the message says why. */
  Refused: 5,
  /** `invocations output`: the invocation has not finished yet. */
  NotReady: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeForStatus(status: number): ExitCode {
  if (status < 400) return ExitCode.Ok;
  if (status === 404) return ExitCode.NotFound;
  if (status === 470) return ExitCode.NotReady;
  if (status < 500) return ExitCode.Refused;
  return ExitCode.Failed;
}

/**
 * The reason given to the controllers that every call aborts when it is done (hand-off, polling):
 * a bare `abort()` builds a new DOMException, stack and all, on the hot path.
 */
export const STOPPED = new DOMException('stopped', 'AbortError');
