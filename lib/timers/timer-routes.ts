/**
 * Which way a wake-up travels on AWS, by how far away it is. Pure: the clock is an argument.
 *
 * ```
 *  now ──────────── +15 min ─────────────────────────────────▶ due
 *  │ SQS DelaySeconds (0…900 s, ±1 s) │ Scheduler at(⌊due⌋min − 1 min) ──▶ queue for the rest
 * ```
 *
 * EventBridge Scheduler invokes a one-time schedule anywhere within the minute it names ("at 1:00
 * fires between 1:00:00 and 1:00:59"), so a schedule is set a whole minute before the minute of
 * its due time: it always fires early, and the timer function hands it to the queue with the
 * delay that is left (see `createTimerHandler`). A wake-up is never late because of Scheduler.
 */

/** SQS's per-message delay limit (15 min). */
export const QUEUE_MAX_DELAY_S = 900;

/** A Scheduler-borne wake-up fires at least this long before its due time (one minute of precision, one of margin). */
export const SCHEDULER_LEAD_MS = 60_000;

/**
 * The farthest ahead a schedule is set. A due time may lie millennia away (stored due times are
 * only clamped to MAX_DUE_AT, year ~33658), which `at(…)` cannot express; such a wake-up is set at
 * this horizon, fires early there and is re-armed for the rest, one year at a time.
 */
export const SCHEDULER_HORIZON_MS = 365 * 86_400_000;

const DAY_MS = 86_400_000;

/** `capped`: set at the horizon, not at its due time (it will be re-armed when it fires). */
export type TimerRoute = { via: 'queue'; delaySeconds: number } | { via: 'scheduler'; atMs: number; capped: boolean };

/**
 * The queue for anything due within 15 minutes (rounded up to the second: never early), the
 * Scheduler beyond. Deadlines of attempts always go through the Scheduler: they only recover an
 * attempt whose Lambda died (which the sweep also finds within a minute), most attempts end well
 * before them, and the queue stays for the wake-ups a caller waits on.
 */
export function routeTimer(dueMs: number, nowMs: number, kind: 'retry' | 'sleep' | 'deadline'): TimerRoute {
  const delayMs = Math.max(0, dueMs - nowMs);
  const atMs = Math.floor(dueMs / 60_000) * 60_000 - SCHEDULER_LEAD_MS;
  // Whole days, so that the same far wake-up requested twice on one day still gets one schedule.
  const horizonMs = Math.floor((nowMs + SCHEDULER_HORIZON_MS) / DAY_MS) * DAY_MS;
  // A deadline too close for a schedule that still lies ahead goes through the queue.
  if (delayMs > QUEUE_MAX_DELAY_S * 1000 || (kind === 'deadline' && atMs > nowMs)) {
    return atMs > horizonMs ? { via: 'scheduler', atMs: horizonMs, capped: true } : { via: 'scheduler', atMs, capped: false };
  }
  return { via: 'queue', delaySeconds: Math.min(QUEUE_MAX_DELAY_S, Math.ceil(delayMs / 1000)) };
}
