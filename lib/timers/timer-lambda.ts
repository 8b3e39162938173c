/** The timer function's event boundary: parse, drive, never throw on a bad event (it would be retried forever). */
import { parseTimerEvent, type TimerEvent } from './timer-event.js';
import type { TimerOutcome } from './timer-handler.js';

export function timerLambdaHandler(core: (event: TimerEvent) => Promise<TimerOutcome>) {
  return async (raw: unknown): Promise<TimerOutcome> => {
    const event = parseTimerEvent(raw);
    if (!event) {
      console.error(JSON.stringify({ level: 'error', msg: 'ignoring a malformed timer event', event: raw }));
      return { kind: 'ignored', reason: 'malformed event' };
    }
    return core(event);
  };
}
