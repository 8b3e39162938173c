/**
 * The timer function's core. Deliveries are at least once and may be late, early, doubled or
 * lost: a delivery only asks "is there something to do for this invocation now?", and the
 * conditional take in the store answers it. The periodic sweep drives whatever the due index
 * says is overdue, so nothing depends on a delivery arriving.
 *
 * A timer delivered well before its due time (a Scheduler schedule, which fires early on
 * purpose: lib/timers/timer-routes.ts) is handed back to the kicker for the rest of the wait.
 */
import type { DriveOutcome, Driver, Kicker } from '../driver/driver.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import type { InvocationStore } from '../store/invocation-store.js';
import type { TimerEvent } from './timer-event.js';

export type TimerOutcome = DriveOutcome | { kind: 'ignored'; reason: string } | SweepOutcome;

export type SweepOutcome = { kind: 'swept'; redriven: string[] };

/** How long past its due time an invocation must be before the sweep takes it over (kicks and timers come first). */
export const SWEEP_GRACE_MS = 5_000;

/** A timer this much before its due time is handed back rather than driven (the driver itself waits out a little earliness, up to 2 s). */
export const EARLY_HANDOVER_MS = 2_000;

export interface TimerHandlerDeps {
  driver: Driver;
  store: InvocationStore;
  log: Logger;
  /** The sweep kicks each overdue invocation instead of driving it here (AWS: one timer function each). */
  kick?: (id: string) => Promise<void>;
  /** Re-arms a timer that arrived early (AWS: the queue takes over from Scheduler). */
  rearm?: Kicker['schedule'];
  now?: () => number;
  sweepGraceMs?: number;
}

export function createTimerHandler(deps: TimerHandlerDeps) {
  const now = deps.now ?? Date.now;
  return async (event: TimerEvent): Promise<TimerOutcome> => {
    if (event.kind === 'timer' && deps.rearm && event.dueMs - now() > EARLY_HANDOVER_MS) {
      await deps.rearm(event.invocationId, event.dueMs, { epoch: event.epoch, kind: event.reason });
      deps.log.log('debug', 'early timer handed over', { [INVOCATION_ID_ATTR]: event.invocationId, dueInMs: event.dueMs - now() });
      return { kind: 'ignored', reason: 'early: re-armed for the rest of the wait' };
    }
    if (event.kind === 'sweep') {
      const ids = await deps.store.dueInvocations(now() - (deps.sweepGraceMs ?? SWEEP_GRACE_MS));
      // In parallel, a few at a time: one slow endpoint must not hold up the rest.
      const queue = [...ids];
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          const current = id;
          if (deps.kick)
            await deps.kick(current).catch((err: unknown) => deps.log.log('error', 'sweep kick failed', { [INVOCATION_ID_ATTR]: current, error: err }));
          else
            await deps.driver
              .driveById(current)
              .catch((err: unknown) => deps.log.log('error', 'sweep re-drive failed', { [INVOCATION_ID_ATTR]: current, error: err }));
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, ids.length) }, worker));
      if (ids.length > 0) deps.log.log('info', 'sweep drove overdue invocations', { count: ids.length });
      return { kind: 'swept', redriven: ids };
    }
    const deliveredAt = now();
    const outcome = await deps.driver.driveById(event.invocationId);
    if (event.kind === 'timer' && outcome.kind === 'skipped' && outcome.leasedUntil !== undefined && outcome.leasedUntil > event.dueMs && deps.rearm) {
      // Still leased past this timer: the due index may point before the lease end (a continuation
      // keeps its entry), and when the attempt's process died (a restart), nothing else wakes the
      // invocation at the lease end but the sweep, up to a minute later. Never for the same time
      // twice, so a lease that outlives its own timer leaves it to the sweep.
      await deps.rearm(event.invocationId, outcome.leasedUntil, { epoch: event.epoch, kind: 'deadline' });
    }
    if (event.kind === 'timer') {
      // lagMs feeds the "timer lag" metric (a metric filter on this line): how late the wake-up came.
      deps.log.log('info', 'timer delivered', {
        [INVOCATION_ID_ATTR]: event.invocationId,
        reason: event.reason,
        lagMs: Math.max(0, deliveredAt - event.dueMs),
        outcome: outcome.kind,
      });
    } else {
      deps.log.log('debug', 'kick delivered', { [INVOCATION_ID_ATTR]: event.invocationId, outcome: outcome.kind });
    }
    return outcome;
  };
}
