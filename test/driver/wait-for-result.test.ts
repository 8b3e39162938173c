/**
 * How often a waiter reads the table while another process runs its invocation (on AWS the ingress
 * function waits while the timer function resumes it): each read is a DynamoDB request. A store
 * stand-in counts the reads and plays the invocation's life: running, then parked on a sleep,
 * then completed shortly after its wake-up.
 */
import { describe, expect, it } from 'vitest';
import { CompletionHub, Dispatcher } from '../../lib/driver/dispatcher.js';
import type { Driver } from '../../lib/driver/driver.js';
import { silentLogger } from '../../lib/log.js';
import { InvocationStatus, type InvocationRecord } from '../../lib/store/invocation-item.js';
import type { InvocationStore } from '../../lib/store/invocation-store.js';
import { testConfig } from '../support/runtime.js';

function lifeOf(t0: number, wakeAfterMs: number, runMs: number) {
  const reads: number[] = [];
  const record = (status: InvocationRecord['status'], extra: Partial<InvocationRecord> = {}) =>
    ({ id: 'inv_w', status, ...extra }) as unknown as InvocationRecord;
  const store = {
    async get() {
      const at = Date.now() - t0;
      reads.push(at);
      if (at < 30) return record(InvocationStatus.Invoked, { dueAt: t0 + 60_000 });
      if (at < wakeAfterMs + runMs) return record(InvocationStatus.Suspended, { dueAt: t0 + wakeAfterMs });
      return record(InvocationStatus.Completed, { result: { kind: 'value', value: new Uint8Array([1]) } });
    },
  } as unknown as InvocationStore;
  const driven: string[] = [];
  const driver = { driveById: async (id: string) => void driven.push(id) } as unknown as Driver;
  const dispatcher = new Dispatcher({
    store,
    driver,
    hub: new CompletionHub(),
    config: testConfig(),
    log: silentLogger,
    startInBackground: async () => undefined,
  });
  return { dispatcher, reads, driven };
}

describe('a waiter on an invocation parked until a known wake-up', () => {
  it('reads the table a few times, not every second, and answers soon after the resume', async () => {
    const t0 = Date.now();
    const { dispatcher, reads, driven } = lifeOf(t0, 3_000, 60);
    const outcome = await dispatcher.waitForResult('inv_w', t0 + 20_000);
    const answeredAfter = Date.now() - t0;
    expect(outcome.kind).toBe('result');
    // Polling at 20 ms doubling to 1 s reads about 9 times over 3 s; parked, it sleeps to the wake-up.
    expect(reads.length).toBeLessThanOrEqual(7);
    expect(reads.filter((at) => at > 100 && at < 2_900)).toHaveLength(0);
    expect(answeredAfter).toBeLessThan(3_000 + 60 + 400);
    expect(driven).toEqual([]);
  });

  it('stops at once when the caller goes away, not at the next look', async () => {
    const t0 = Date.now();
    const { dispatcher } = lifeOf(t0, 60_000, 0);
    const gone = new AbortController();
    setTimeout(() => gone.abort(), 300);
    const outcome = await dispatcher.waitForResult('inv_w', t0 + 20_000, { signal: gone.signal });
    expect(outcome.kind).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('still looks every 5 s during a long sleep (another process may resume it early)', async () => {
    const t0 = Date.now();
    const { dispatcher, reads } = lifeOf(t0, 60_000, 0);
    const outcome = await dispatcher.waitForResult('inv_w', t0 + 6_000);
    expect(outcome.kind).toBe('timeout');
    const parkedReads = reads.filter((at) => at > 100);
    expect(parkedReads.length).toBeGreaterThanOrEqual(1);
    expect(parkedReads.length).toBeLessThanOrEqual(2);
  });
});
