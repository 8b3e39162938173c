/**
 * The local runner's timer service: kicks run in process; wake-ups are in-memory timers. Nothing
 * is stored for them: the due index is the truth, so a restart re-arms what is due soon from it
 * (`restore`) and the periodic sweep drives anything overdue, including what another process
 * armed before it died. Only wake-ups within HORIZON_MS are held in memory: a process with many
 * sleeps of months or years holds none of them; `restore`, run every RESTORE_EVERY_MS, arms each
 * one as it comes within the horizon.
 */
import type { Kicker } from '../driver/driver.js';
import type { Logger } from '../log.js';
import type { InvocationStore } from '../store/invocation-store.js';
import type { TimerEvent } from './timer-event.js';
import { SWEEP_GRACE_MS } from './timer-handler.js';

/** Node's timers overflow above 2^31 - 1 ms (24.8 days); a longer wait would be re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Wake-ups due within this window are held as in-memory timers; later ones stay in the index only. */
export const HORIZON_MS = 24 * 3600_000;

/** How often the runner re-reads the index for wake-ups that came within the horizon (16 queries). */
export const RESTORE_EVERY_MS = 3600_000;

export class LocalKicker implements Kicker {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly store: InvocationStore,
    /** Where due timers and kicks go; the local runner points it at the timer Lambda's handler. */
    public fire: (event: TimerEvent) => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  async kick(id: string): Promise<void> {
    if (this.stopped) return;
    setImmediate(() => void this.run({ kind: 'kick', invocationId: id }));
  }

  async schedule(id: string, atMs: number, reason: { epoch: number; kind: 'retry' | 'sleep' | 'deadline' }): Promise<void> {
    // Beyond the horizon the index alone holds it (written before this call); `restore` arms it later.
    if (!(atMs <= Date.now() + HORIZON_MS)) return;
    this.arm(`${id}|${atMs}`, { kind: 'timer', invocationId: id, epoch: reason.epoch, reason: reason.kind, dueMs: atMs });
  }

  /**
   * Arms timers for what the due index says is due within the horizon (at start-up, then every
   * RESTORE_EVERY_MS). It starts SWEEP_GRACE_MS in the past: the sweep leaves what is overdue by
   * less than that to timers, so a wake-up that fell due while the process restarted would
   * otherwise wait for the next sweep (a minute) instead of firing at once.
   */
  async restore(now = Date.now()): Promise<number> {
    const due = await this.store.dueBetween(now - SWEEP_GRACE_MS, now + HORIZON_MS);
    for (const { id, dueAt } of due) this.arm(`${id}|${dueAt}`, { kind: 'timer', invocationId: id, epoch: -1, reason: 'sleep', dueMs: dueAt });
    return due.length;
  }

  /** How many timers are armed (tests, diagnostics). */
  get armed(): number {
    return this.timers.size;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private arm(name: string, event: TimerEvent & { kind: 'timer' }): void {
    if (this.stopped || this.timers.has(name)) return;
    const delay = Math.max(0, event.dueMs - Date.now());
    const t = setTimeout(
      () => {
        this.timers.delete(name);
        if (event.dueMs > Date.now()) return this.arm(name, event); // a step of a long wait
        void this.run(event);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    t.unref?.();
    this.timers.set(name, t);
  }

  private async run(event: TimerEvent): Promise<void> {
    if (this.stopped) return;
    try {
      await this.fire(event);
    } catch (err) {
      this.log.log('error', 'timer delivery failed', { error: err, event });
    }
  }
}
