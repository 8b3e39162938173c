/**
 * Construct props → the settings the functions see: defaults applied, everything checked at
 * synth (a bad value fails `cdk synth` with the construct path, never a deploy or a call).
 */
import { Duration, Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DEFAULTS, ENV } from '../config.js';
import { DEFAULT_THROTTLE } from './api.js';
import type { RestlessProps } from './props.js';

/*
 * Timeouts, and why:
 * - ingress 30 s: API Gateway HTTP APIs cut every integration at 30 s (hard limit), so a longer
 *   Lambda timeout would only burn money after the caller is gone. The ingress answers
 *   `deadline_exceeded` at the ingress deadline (28 s after API Gateway received the request, by
 *   default) and hands the invocation to the timer, which leaves ~2 s to persist and kick.
 * - admin 30 s: same API Gateway limit; discovery of a cold Lambda endpoint takes a few seconds.
 * - timer 15 min (the Lambda maximum): it drives invocations nobody waits for synchronously: an
 *   attempt may legitimately last inactivity + abort timeout (2 min by default) and one run may
 *   drain a keyed inbox. Lambda bills the time used, not the timeout, so the ceiling is free; a
 *   timer that dies is recovered by the sweep once its lease expires.
 */
export const INGRESS_TIMEOUT = Duration.seconds(30);
export const ADMIN_TIMEOUT = Duration.seconds(30);
export const TIMER_TIMEOUT = Duration.minutes(15);

/** Settings after defaults and validation, as the functions will see them. */
export interface Settings {
  environment: Record<string, string>;
  corsAllowedOrigins: string[];
  endpointFunctionArns: string[];
  endpointAssumeRoleArns: string[];
  throttle: { rateLimit: number; burstLimit: number };
}

export function resolveSettings(scope: Construct, props: RestlessProps): Settings {
  const fail = (message: string): never => {
    throw new RestlessPropsError(message, scope);
  };
  const ms = (d: Duration | undefined, fallback: number) => (d === undefined ? fallback : d.toMilliseconds());
  const retry = {
    initialIntervalMs: ms(props.retry?.initialInterval, DEFAULTS.retry.initialIntervalMs),
    factor: props.retry?.factor ?? DEFAULTS.retry.factor,
    maxIntervalMs: ms(props.retry?.maxInterval, DEFAULTS.retry.maxIntervalMs),
    maxAttempts: props.retry?.maxAttempts,
  };
  const inactivityTimeoutMs = ms(props.inactivityTimeout, DEFAULTS.inactivityTimeoutMs);
  const abortTimeoutMs = ms(props.abortTimeout, DEFAULTS.abortTimeoutMs);
  const ingressDeadlineMs = ms(props.ingressDeadline, DEFAULTS.ingressDeadlineMs);
  const idemDefaultSec = ms(props.idempotencyDefaultRetention, DEFAULTS.idempotencyDefaultRetentionSec * 1000) / 1000;
  const idemMaxSec = ms(props.idempotencyMaxRetention, DEFAULTS.idempotencyMaxRetentionSec * 1000) / 1000;
  const corsAllowedOrigins = props.corsAllowedOrigins ?? [...DEFAULTS.corsAllowedOrigins];

  if (!(retry.factor >= 1)) fail(`retry.factor must be >= 1, got ${retry.factor}`);
  if (retry.initialIntervalMs <= 0) fail('retry.initialInterval must be positive');
  if (retry.maxIntervalMs < retry.initialIntervalMs) fail('retry.maxInterval must not be below retry.initialInterval');
  if (retry.maxAttempts !== undefined && !(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) {
    fail(`retry.maxAttempts must be a positive integer, got ${retry.maxAttempts}`);
  }
  if (ingressDeadlineMs <= 0 || ingressDeadlineMs >= INGRESS_TIMEOUT.toMilliseconds()) {
    fail(`ingressDeadline must be between 0 and ${INGRESS_TIMEOUT.toSeconds()} s (the API Gateway limit)`);
  }
  if (inactivityTimeoutMs + abortTimeoutMs >= TIMER_TIMEOUT.toMilliseconds()) {
    fail(`inactivityTimeout + abortTimeout must stay below the timer function's ${TIMER_TIMEOUT.toMinutes()} min timeout`);
  }
  if (!Number.isInteger(idemDefaultSec) || !Number.isInteger(idemMaxSec)) fail('idempotency retentions must be whole seconds');
  if (idemDefaultSec > idemMaxSec) fail('idempotencyDefaultRetention must not exceed idempotencyMaxRetention');
  if (corsAllowedOrigins.length === 0 || corsAllowedOrigins.some((o) => o === '' || o.includes(','))) {
    fail('corsAllowedOrigins must be a non-empty list of origins without commas');
  }
  const endpointFunctionArns = props.endpointFunctionArns ?? [];
  for (const arn of endpointFunctionArns) {
    if (!Token.isUnresolved(arn) && !/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$/.test(arn)) {
      fail(`endpointFunctionArns: not a Lambda function ARN: ${arn}`);
    }
  }
  const throttle = { ...DEFAULT_THROTTLE, ...props.throttle };
  if (!(throttle.rateLimit > 0) || !Number.isInteger(throttle.burstLimit) || throttle.burstLimit < 1) {
    fail(`throttle: rateLimit must be positive and burstLimit a positive integer, got ${JSON.stringify(throttle)}`);
  }
  for (const [role, n] of Object.entries(props.reservedConcurrency ?? {})) {
    if (n !== undefined && !(Number.isInteger(n) && n >= 1)) fail(`reservedConcurrency.${role} must be a positive integer, got ${n}`);
  }
  const owned = new Set<string>([...Object.values(ENV), 'NODE_OPTIONS']);
  for (const key of Object.keys(props.environment ?? {})) {
    if (owned.has(key)) fail(`environment: ${key} is set by the construct; use its props`);
  }

  const environment: Record<string, string> = {
    [ENV.retryInitialIntervalMs]: String(retry.initialIntervalMs),
    [ENV.retryFactor]: String(retry.factor),
    [ENV.retryMaxIntervalMs]: String(retry.maxIntervalMs),
    [ENV.inactivityTimeoutMs]: String(inactivityTimeoutMs),
    [ENV.abortTimeoutMs]: String(abortTimeoutMs),
    [ENV.ingressDeadlineMs]: String(ingressDeadlineMs),
    [ENV.idempotencyDefaultRetentionSec]: String(idemDefaultSec),
    [ENV.idempotencyMaxRetentionSec]: String(idemMaxSec),
    [ENV.corsAllowedOrigins]: corsAllowedOrigins.join(','),
    // Stack traces point at the TypeScript sources (the bundles carry source maps).
    NODE_OPTIONS: '--enable-source-maps',
  };
  // Unbounded retries are expressed by leaving the variable out (configFromEnv reads '' as unset too).
  if (retry.maxAttempts !== undefined) environment[ENV.retryMaxAttempts] = String(retry.maxAttempts);
  return { environment, corsAllowedOrigins, endpointFunctionArns, endpointAssumeRoleArns: props.endpointAssumeRoleArns ?? [], throttle };
}

/** Invalid construct props (or a missing build tool), named after the construct that failed. */
export class RestlessPropsError extends Error {
  override readonly name = 'RestlessPropsError';
  constructor(message: string, scope: Construct) {
    super(`${scope.node.path}: ${message}`);
  }
}
