import type { RetryPolicy } from '../config.js';

/** Delay before retry number `attempt` (1-based): initial × factor^(attempt-1), capped. */
export function retryDelayMs(policy: RetryPolicy, attempt: number): number {
  const raw = policy.initialIntervalMs * Math.pow(policy.factor, Math.max(0, attempt - 1));
  return Math.min(policy.maxIntervalMs, Math.round(raw));
}

export function attemptsExhausted(policy: RetryPolicy, attempts: number): boolean {
  return policy.maxAttempts !== undefined && attempts >= policy.maxAttempts;
}
