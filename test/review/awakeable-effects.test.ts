/**
 * Regression (found in review of the durable core): the awakeable completions one attempt sends to the same target are folded into a single
 * update of the target (InvocationStore.effectOps), whose condition requires every one of them to
 * be applicable. When one of them is not (already resolved: "first wins"), the commit drops the
 * effect *and every other completion for that target*, so a valid completion is lost and the
 * target waits for it forever (suspended, nothing due).
 */
import * as restate from '@restatedev/restate-sdk';
import { describe, expect, it } from 'vitest';
import { InvocationStatus } from '../../lib/store/invocation-store.js';
import { json, post } from '../support/runtime.js';
import { reviewRuntime, type ReviewRuntime } from './harness.js';

type Api<T> = restate.ServiceApi<T>;

const both = restate.router({
  /** Hands out two awakeables to a resolver service and waits for both. */
  waitTwo: async (ctx: restate.Context) => {
    const a = ctx.awakeable<string>();
    const b = ctx.awakeable<string>();
    ctx.send<typeof resolver>(resolverApi).resolveBoth({ a: a.id, b: b.id });
    return `${await a.promise}+${await b.promise}`;
  },
});
const resolver = restate.router({
  resolveBoth: async (ctx: restate.Context, req: { a: string; b: string }) => {
    ctx.resolveAwakeable(req.a, 'from-service-a');
    ctx.resolveAwakeable(req.b, 'from-service-b');
    return 'ok';
  },
});
const resolverApi: Api<typeof resolver> = { path: 'resolver' };

function endpoint(): restate.RestateEndpoint {
  return restate.endpoint().bindRouter('both', both).bindRouter('resolver', resolver);
}

async function sweepUntilDone(env: ReviewRuntime, id: string, rounds = 5) {
  for (let i = 0; i < rounds; i++) {
    const rec = await env.store.get(id);
    if (rec?.status === InvocationStatus.Completed) return rec;
    env.clock.skew += 60_000;
    await env.sweep();
  }
  return env.store.get(id);
}

describe('awakeable completions sent by one attempt to one target', () => {
  it('applies the completion that can apply when another one for the same target is a duplicate', async () => {
    const env = await reviewRuntime(endpoint());
    const res = await post(env.ingress, '/dev.restate.Ingress/Invoke', { service: 'both', method: 'waitTwo', argument: { request: { tag: 't' } } });
    const id = (json(res) as { id: string }).id;
    // The waiter runs: two awakeables (entries 1, 2) and the send to the resolver (entry 3); it suspends.
    await env.driver.driveById(id);
    const waiting = await env.store.get(id);
    expect(waiting?.status).toBe(InvocationStatus.Suspended);
    const resolverId = env.kicks.find((k) => k !== id)!;
    // Someone else resolves awakeable 1 first (first wins).
    expect(await env.store.completeAwakeable(id, 1, { kind: 'value', value: new TextEncoder().encode(JSON.stringify('from-ingress')) })).toBe('stored');
    // The resolver runs: CompleteAwakeable(1) is a duplicate, CompleteAwakeable(2) is the only one for entry 2.
    await env.driver.driveById(resolverId);
    expect((await env.store.get(resolverId))?.status).toBe(InvocationStatus.Completed);
    // entry 2 got 'from-service-b' — before the fix: it was dropped with the duplicate.
    expect((await env.store.get(id))?.awakeables.has(2)).toBe(true);
    const rec = await sweepUntilDone(env, id);
    expect(rec?.status).toBe(InvocationStatus.Completed);
  });
});
