/**
 * The timer function's core. Deliveries are at least once, so it is idempotent: a timer whose
 * epoch is older than the invocation's current one (the attempt it was armed for is gone) and a
 * delivery for a finished invocation do nothing.
 */
import type { DriveOutcome, Driver } from '../driver/driver.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import { InvocationStatus, type InvocationStore } from '../store/invocation-store.js';
import type { TimerEvent } from './timer-event.js';

export type TimerOutcome = DriveOutcome | { kind: 'ignored'; reason: string } | SweepOutcome;

export type SweepOutcome = { kind: 'swept'; redriven: string[] };

/** How long past its lease end an invocation must be before the sweep takes it over. */
export const SWEEP_GRACE_MS = 5_000;

export function createTimerHandler(deps: { driver: Driver; store: InvocationStore; log: Logger; kick?: (id: string) => Promise<void>; now?: () => number }) {
  const now = deps.now ?? Date.now;
  return async (event: TimerEvent): Promise<TimerOutcome> => {
    if (event.kind === 'sweep') {
      // Leases that lapsed: an attempt whose Lambda died, a retry or kick that never came.
      const ids = await deps.store.lapsedLeases(now() - SWEEP_GRACE_MS);
      for (const id of ids) {
        if (deps.kick) await deps.kick(id);
        else await deps.driver.driveById(id).catch((err) => deps.log.log('error', 'sweep re-drive failed', { [INVOCATION_ID_ATTR]: id, error: err }));
      }
      if (ids.length > 0) deps.log.log('info', 'sweep re-drove lapsed invocations', { count: ids.length });
      return { kind: 'swept', redriven: ids };
    }
    const log = deps.log.child({ [INVOCATION_ID_ATTR]: event.invocationId });
    if (event.kind === 'timer') {
      const rec = await deps.store.get(event.invocationId);
      if (!rec || rec.status === InvocationStatus.Completed) return { kind: 'ignored', reason: 'invocation finished or unknown' };
      if (rec.status === InvocationStatus.Delayed) {
        // A delayed send is due: it joins its key's inbox (or becomes runnable) exactly once.
        const status = await deps.store.activateDelayed(rec);
        if (status === InvocationStatus.Inboxed) {
          const instance = await deps.store.getInstance(rec.service, rec.key);
          if (instance.queue[0] !== rec.id) return { kind: 'ignored', reason: 'delayed send queued behind the key lock' };
        }
      } else if (rec.epoch !== event.epoch) {
        log.log('debug', 'stale timer ignored', { timerEpoch: event.epoch, epoch: rec.epoch, reason: event.reason });
        return { kind: 'ignored', reason: `stale timer (epoch ${event.epoch}, invocation at ${rec.epoch})` };
      }
    }
    const outcome = await deps.driver.driveById(event.invocationId);
    log.log('debug', 'timer delivered', { event: event.kind, outcome: outcome.kind });
    return outcome;
  };
}
