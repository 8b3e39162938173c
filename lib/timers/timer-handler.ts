/**
 * The timer function's core. Deliveries are at least once and may be late, early, doubled or
 * lost: a delivery only asks "is there something to do for this invocation now?", and the
 * conditional take in the store answers it. The periodic sweep drives whatever the due index
 * says is overdue, so nothing depends on a delivery arriving.
 */
import type { DriveOutcome, Driver } from '../driver/driver.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import type { InvocationStore } from '../store/invocation-store.js';
import type { TimerEvent } from './timer-event.js';

export type TimerOutcome = DriveOutcome | { kind: 'ignored'; reason: string } | SweepOutcome;

export type SweepOutcome = { kind: 'swept'; redriven: string[] };

/** How long past its due time an invocation must be before the sweep takes it over (kicks and timers come first). */
export const SWEEP_GRACE_MS = 5_000;

export function createTimerHandler(deps: { driver: Driver; store: InvocationStore; log: Logger; kick?: (id: string) => Promise<void>; now?: () => number; sweepGraceMs?: number }) {
  const now = deps.now ?? Date.now;
  return async (event: TimerEvent): Promise<TimerOutcome> => {
    if (event.kind === 'sweep') {
      const ids = await deps.store.dueInvocations(now() - (deps.sweepGraceMs ?? SWEEP_GRACE_MS));
      // In parallel, a few at a time: one slow endpoint must not hold up the rest.
      const queue = [...ids];
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          const current = id;
          if (deps.kick) await deps.kick(current).catch((err: unknown) => deps.log.log('error', 'sweep kick failed', { [INVOCATION_ID_ATTR]: current, error: err }));
          else await deps.driver.driveById(current).catch((err: unknown) => deps.log.log('error', 'sweep re-drive failed', { [INVOCATION_ID_ATTR]: current, error: err }));
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, ids.length) }, worker));
      if (ids.length > 0) deps.log.log('info', 'sweep drove overdue invocations', { count: ids.length });
      return { kind: 'swept', redriven: ids };
    }
    const outcome = await deps.driver.driveById(event.invocationId);
    deps.log.log('debug', 'timer delivered', { [INVOCATION_ID_ATTR]: event.invocationId, event: event.kind, outcome: outcome.kind });
    return outcome;
  };
}
