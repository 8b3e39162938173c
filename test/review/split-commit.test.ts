/**
 * Regression (found in review of the durable core): an attempt whose effects touch an item its ending touches (a keyed handler that sends to
 * its own key; a handler that resolves its caller's awakeable) is committed in two writes by
 * InvocationStore.commit: journal + effects first (as a 'continue', without the state), then the
 * ending (state, lock hand-over, result). Anything that stops the second write (a throttled or
 * failed request, a process that dies between the two, a completion that arrives and turns the
 * suspension into 'woken') leaves the journal holding entries whose consequences were never
 * stored: the SetState entries' state and, for a completing attempt, the Output entry itself.
 */
import * as restate from '@restatedev/restate-sdk';
import { describe, expect, it } from 'vitest';
import { InvocationStatus } from '../../lib/store/invocation-store.js';
import { MessageType } from '../../lib/protocol/framing.js';
import { injectFaults } from '../support/dynamo-faults.js';
import { json, post, testConfig } from '../support/runtime.js';
import { reviewRuntime, type ReviewRuntime } from './harness.js';

type Api<T> = restate.ServiceApi<T>;

const selfSender = restate.keyedRouter({
  /** Sets state, sends one-way to its own key, ends. */
  go: async (ctx: restate.KeyedContext, key: string) => {
    ctx.set('x', 'set-by-go');
    ctx.send<typeof selfSender>(selfSenderApi).note(key, {});
    return 'done';
  },
  /** Sets state, sends one-way to its own key, then waits on an awakeable (suspends). */
  goThenWait: async (ctx: restate.KeyedContext, key: string) => {
    const { promise } = ctx.awakeable<string>();
    ctx.set('x', 'set-by-goThenWait');
    ctx.send<typeof selfSender>(selfSenderApi).note(key, {});
    return `got ${await promise}`;
  },
  note: async (_ctx: restate.KeyedContext, _key: string, _req: Record<string, never>) => 'noted',
  read: async (ctx: restate.KeyedContext) => (await ctx.get<string>('x')) ?? 'none',
});
const selfSenderApi: Api<typeof selfSender> = { path: 'selfSender' };

function endpoint(): restate.RestateEndpoint {
  return restate.endpoint().bindKeyedRouter('selfSender', selfSender);
}

async function invoke(env: ReviewRuntime, service: string, method: string, argument: unknown): Promise<string> {
  const res = await post(env.ingress, '/dev.restate.Ingress/Invoke', { service, method, argument });
  expect(res.status).toBe(200);
  return (json(res) as { id: string }).id;
}

/** Drives `id` (and whatever the index says is due) the way the sweep would, moving the clock past leases. */
async function driveToEnd(env: ReviewRuntime, id: string, rounds = 6) {
  for (let i = 0; i < rounds; i++) {
    const rec = await env.store.get(id);
    if (!rec || rec.status === InvocationStatus.Completed) return rec;
    env.clock.skew += 10 * 60_000; // past any lease and backoff
    await env.sweep();
  }
  return env.store.get(id);
}

describe('split commit (effects colliding with the ending)', () => {
  it('a keyed handler that sends to its own key completes, with its state, although its completing write was throttled once', async () => {
    const env = await reviewRuntime(endpoint(), {
      config: testConfig({ inactivityTimeoutMs: 1_000, abortTimeoutMs: 1_000, retry: { initialIntervalMs: 10, factor: 1, maxIntervalMs: 10, maxAttempts: 4 } }),
    });
    const key = `k-${Date.now()}`;
    const id = await invoke(env, 'selfSender', 'go', { key, request: {} });
    const faults = injectFaults(env.tables.doc);
    // Only the second write of the split carries the result.
    faults.add({ command: 'TransactWriteItemsCommand', kind: 'throttle', matching: '"#result"' });
    await env.driver.driveById(id).catch(() => undefined);
    expect(faults.hits.throttle).toBe(1);

    const mid = await env.store.get(id);
    // The first write journaled everything but the output (with the state and the send); the
    // output comes with the ending, so a lost ending leaves nothing half-done.
    expect(mid?.status).toBe(InvocationStatus.Invoked);
    expect(mid?.journal.some((e) => e.type === MessageType.OutputStream)).toBe(false);
    expect((await env.store.getInstance('selfSender', key)).state.has('x')).toBe(true);

    const rec = await driveToEnd(env, id);
    // the throttled write only cost a retry — before the fix: every later attempt replays the
    // journaled Output, the SDK answers End only, "the endpoint ended without an output entry",
    // and the invocation fails after its retries (unbounded by default: it never ends and holds
    // the key's lock forever).
    expect(rec?.status).toBe(InvocationStatus.Completed);
    expect(rec?.result?.kind).toBe('value');
    expect(Buffer.from((rec?.result as { value: Uint8Array }).value).toString()).toContain('done');
    // The SetState journaled in the first write must be in the key's state.
    const state = await env.store.getInstance('selfSender', key);
    expect(state.state.has('x')).toBe(true);
  });

  it('a keyed handler that sends to its own key keeps its state when the suspending write fails before it is sent', async () => {
    const env = await reviewRuntime(endpoint());
    const key = `s-${Date.now()}`;
    const id = await invoke(env, 'selfSender', 'goThenWait', { key, request: {} });
    const faults = injectFaults(env.tables.doc);
    // The second write of the split is the only one that writes the key's state ('s').
    faults.add({ command: 'TransactWriteItemsCommand', kind: 'fail-before', matching: '"#s"' });
    await env.driver.driveById(id).catch(() => undefined);
    expect(faults.hits['fail-before']).toBe(1);
    const mid = await env.store.get(id);
    // One write carries the entries, the send and the state: it failed as a whole.
    expect(mid?.journal).toEqual([]);

    // The invocation recovers (lease lapses, the sweep retakes it; it suspends on the awakeable) and is resolved.
    env.clock.skew += 10 * 60_000;
    await env.sweep();
    expect((await env.store.get(id))?.status).toBe(InvocationStatus.Suspended);
    expect(await env.store.completeAwakeable(id, 1, { kind: 'value', value: new TextEncoder().encode(JSON.stringify('v')) })).toBe('stored');
    const rec = await driveToEnd(env, id);
    expect(rec?.status).toBe(InvocationStatus.Completed);
    expect(Buffer.from((rec?.result as { value: Uint8Array }).value).toString()).toContain('got v');
    // the journaled SetState is in the key's state — before the fix: it is lost for good (the
    // replay re-applies nothing; the runtime applies state only for new entries).
    expect(json(await post(env.ingress, '/selfSender/read', { key, request: {} }))).toEqual({ response: 'set-by-goThenWait' });
  });
});
