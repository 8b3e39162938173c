/** What the timer function receives: from Scheduler, from an async kick, or the periodic sweep. */
export type TimerEvent =
  | { kind: 'kick'; invocationId: string }
  | { kind: 'timer'; invocationId: string; epoch: number; reason: 'retry' | 'sleep' | 'deadline'; dueMs: number }
  | { kind: 'sweep' };

export function parseTimerEvent(raw: unknown): TimerEvent | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const e = raw as Record<string, unknown>;
  if (e.kind === 'sweep') return { kind: 'sweep' };
  if (typeof e.invocationId !== 'string') return undefined;
  if (e.kind === 'kick') return { kind: 'kick', invocationId: e.invocationId };
  if (e.kind === 'timer' && typeof e.epoch === 'number' && typeof e.dueMs === 'number') {
    const reason = e.reason === 'retry' || e.reason === 'sleep' || e.reason === 'deadline' ? e.reason : 'sleep';
    return { kind: 'timer', invocationId: e.invocationId, epoch: e.epoch, reason, dueMs: e.dueMs };
  }
  return undefined;
}
