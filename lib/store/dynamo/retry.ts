/**
 * The AWS SDK's standard retry mode, for the lean client: which failures are retried, how long to
 * wait (exponential backoff with full jitter) and the retry quota that stops retry storms when
 * DynamoDB keeps failing.
 */

export type RetryKind = 'throttling' | 'transient' | 'server';

const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);

/** How a failure may be retried; undefined: it is an answer, not a failure to get one. */
export function retryKind(err: unknown): RetryKind | undefined {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (!e) return undefined;
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLING.has(e.name ?? '') || status === 429) return 'throttling';
  if (TRANSIENT_NAMES.has(e.name ?? '') || TRANSIENT_CODES.has(e.code ?? '') || (status !== undefined && TRANSIENT_STATUS.has(status))) return 'transient';
  if (status !== undefined && status >= 500) return 'server';
  return undefined;
}

/** Full jitter: uniform in [0, min(20 s, base · 2^(retry-1))], base 500 ms for throttling, else 100 ms. */
export function backoffMs(retry: number, kind: RetryKind, random: () => number = Math.random): number {
  const base = kind === 'throttling' ? 500 : 100;
  return Math.floor(random() * Math.min(20_000, base * 2 ** (retry - 1)));
}

/** Retry tokens: a retry spends 5 (10 after a timeout or a reset), a success gives back what its retry cost, or 1. */
export class RetryQuota {
  private tokens = 500;

  /** Takes the cost of a retry; undefined when the quota is spent (do not retry). */
  take(kind: RetryKind): number | undefined {
    const cost = kind === 'transient' ? 10 : 5;
    if (this.tokens < cost) return undefined;
    this.tokens -= cost;
    return cost;
  }

  succeeded(lastRetryCost: number | undefined): void {
    this.tokens = Math.min(500, this.tokens + (lastRetryCost ?? 1));
  }
}
