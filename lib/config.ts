/**
 * Runtime configuration: one shape for the Lambdas (read from environment variables that the CDK
 * construct sets) and for the local runner (flags and the same variables).
 */
export interface RetryPolicy {
  initialIntervalMs: number;
  factor: number;
  maxIntervalMs: number;
  /** undefined = unbounded (the 0.x default). */
  maxAttempts: number | undefined;
}

export interface RuntimeConfig {
  tableName: string;
  retry: RetryPolicy;
  /** An attempt without progress for this long is stopped (it may then suspend or retry). */
  inactivityTimeoutMs: number;
  /** Extra grace after the inactivity timeout before the attempt is cut and its progress discarded. */
  abortTimeoutMs: number;
  /** A synchronous ingress caller is answered `deadline_exceeded` after this long (API Gateway cuts at ~30 s). */
  ingressDeadlineMs: number;
  /** Default and maximum idempotency retention, in seconds. */
  idempotencyDefaultRetentionSec: number;
  idempotencyMaxRetentionSec: number;
  /** Origins allowed by CORS for browser (gRPC-web / Connect) callers; `*` for any. */
  corsAllowedOrigins: string[];
  /** AWS only: the timer queue the timer function consumes (kicks, wake-ups within 15 min). */
  timerQueueUrl?: string;
  timerQueueArn?: string;
  /** AWS only: where undeliverable timer events end (Scheduler's dead-letter target). */
  deadLetterQueueArn?: string;
  /** Discovery of a registered endpoint (all its attempts) gives up after this. */
  discoveryTimeoutMs: number;
  /** Endpoints at link-local / instance-metadata addresses (169.254.0.0/16, fe80::/10) are refused unless this is set. */
  allowLinkLocalEndpoints: boolean;
  /** AWS only: EventBridge Scheduler group and the role its schedules send to the queue with. */
  schedulerGroup?: string;
  schedulerRoleArn?: string;
}

/** Environment variable names, shared with the CDK construct. */
export const ENV = {
  tableName: 'RESTLESS_TABLE_NAME',
  retryInitialIntervalMs: 'RESTLESS_RETRY_INITIAL_INTERVAL_MS',
  retryFactor: 'RESTLESS_RETRY_FACTOR',
  retryMaxIntervalMs: 'RESTLESS_RETRY_MAX_INTERVAL_MS',
  retryMaxAttempts: 'RESTLESS_RETRY_MAX_ATTEMPTS',
  inactivityTimeoutMs: 'RESTLESS_INACTIVITY_TIMEOUT_MS',
  abortTimeoutMs: 'RESTLESS_ABORT_TIMEOUT_MS',
  ingressDeadlineMs: 'RESTLESS_INGRESS_DEADLINE_MS',
  idempotencyDefaultRetentionSec: 'RESTLESS_IDEMPOTENCY_DEFAULT_RETENTION_SEC',
  idempotencyMaxRetentionSec: 'RESTLESS_IDEMPOTENCY_MAX_RETENTION_SEC',
  corsAllowedOrigins: 'RESTLESS_CORS_ALLOWED_ORIGINS',
  timerQueueUrl: 'RESTLESS_TIMER_QUEUE_URL',
  timerQueueArn: 'RESTLESS_TIMER_QUEUE_ARN',
  deadLetterQueueArn: 'RESTLESS_DEAD_LETTER_QUEUE_ARN',
  discoveryTimeoutMs: 'RESTLESS_DISCOVERY_TIMEOUT_MS',
  allowLinkLocalEndpoints: 'RESTLESS_ALLOW_LINK_LOCAL_ENDPOINTS',
  schedulerGroup: 'RESTLESS_SCHEDULER_GROUP',
  schedulerRoleArn: 'RESTLESS_SCHEDULER_ROLE_ARN',
} as const;

export const DEFAULTS = {
  tableName: 'restless',
  retry: { initialIntervalMs: 50, factor: 2, maxIntervalMs: 10_000, maxAttempts: undefined },
  inactivityTimeoutMs: 60_000,
  abortTimeoutMs: 60_000,
  ingressDeadlineMs: 28_000,
  idempotencyDefaultRetentionSec: 1800,
  idempotencyMaxRetentionSec: 30 * 24 * 3600,
  corsAllowedOrigins: ['*'],
  discoveryTimeoutMs: 10_000,
  allowLinkLocalEndpoints: false,
} as const satisfies Omit<RuntimeConfig, 'retry' | 'corsAllowedOrigins'> & { retry: RetryPolicy; corsAllowedOrigins: readonly string[] };

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got '${raw}'`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`${name} must be true or false, got '${env[name]}'`);
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const maxAttempts = env[ENV.retryMaxAttempts];
  return {
    tableName: env[ENV.tableName] || DEFAULTS.tableName,
    retry: {
      initialIntervalMs: num(env, ENV.retryInitialIntervalMs, DEFAULTS.retry.initialIntervalMs),
      factor: num(env, ENV.retryFactor, DEFAULTS.retry.factor),
      maxIntervalMs: num(env, ENV.retryMaxIntervalMs, DEFAULTS.retry.maxIntervalMs),
      maxAttempts: maxAttempts ? num(env, ENV.retryMaxAttempts, 0) : undefined,
    },
    inactivityTimeoutMs: num(env, ENV.inactivityTimeoutMs, DEFAULTS.inactivityTimeoutMs),
    abortTimeoutMs: num(env, ENV.abortTimeoutMs, DEFAULTS.abortTimeoutMs),
    ingressDeadlineMs: num(env, ENV.ingressDeadlineMs, DEFAULTS.ingressDeadlineMs),
    idempotencyDefaultRetentionSec: num(env, ENV.idempotencyDefaultRetentionSec, DEFAULTS.idempotencyDefaultRetentionSec),
    idempotencyMaxRetentionSec: num(env, ENV.idempotencyMaxRetentionSec, DEFAULTS.idempotencyMaxRetentionSec),
    discoveryTimeoutMs: num(env, ENV.discoveryTimeoutMs, DEFAULTS.discoveryTimeoutMs),
    allowLinkLocalEndpoints: bool(env, ENV.allowLinkLocalEndpoints, DEFAULTS.allowLinkLocalEndpoints),
    corsAllowedOrigins: (env[ENV.corsAllowedOrigins] ?? DEFAULTS.corsAllowedOrigins.join(','))
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    timerQueueUrl: env[ENV.timerQueueUrl],
    timerQueueArn: env[ENV.timerQueueArn],
    deadLetterQueueArn: env[ENV.deadLetterQueueArn],
    schedulerGroup: env[ENV.schedulerGroup],
    schedulerRoleArn: env[ENV.schedulerRoleArn],
  };
}
