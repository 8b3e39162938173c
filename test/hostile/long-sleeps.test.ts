/**
 * Sleeps no timer can hold: a wake time past 2^31 ms from now, past Number.MAX_SAFE_INTEGER, or
 * not a number at all (the SDK adds a string to Date.now()). Each parks the invocation in the due
 * index at a bounded time: no failed attempt, no retry loop, nothing due now.
 */
import { describe, expect, it } from 'vitest';
import { servicesEndpoint } from '../../examples/services.js';
import { MAX_DUE_AT } from '../../lib/store/invocation-item.js';
import { eventually, inProcessRuntime, json, post } from '../support/runtime.js';

describe('sleeps beyond any timer', () => {
  it.each([
    ['1e12 ms (31 years, past the 24.8-day timer limit)', 1e12],
    ['9e15 ms (past MAX_SAFE_INTEGER once added to now)', 9e15],
    ['a string ("1000", concatenated to now by the SDK)', '1000'],
    ['an object (NaN wake time)', {}],
  ])('%s: suspends once, due at a stored time ≤ MAX_DUE_AT, and is not driven again', async (_label, millis) => {
    const env = await inProcessRuntime(servicesEndpoint());
    const started = await post(env.ingress, '/dev.restate.Ingress/Invoke', { service: 'sleeper', method: 'sleep', argument: { request: { millis } } });
    expect(started.status).toBe(200);
    const id = (json(started) as { id: string }).id;
    const rec = await eventually(async () => {
      const r = await env.store.get(id);
      return r?.status === 'suspended' ? r : undefined;
    });
    expect(rec.lastFailure).toBeUndefined();
    expect(rec.journal).toHaveLength(1);
    expect(rec.dueAt).toBeGreaterThan(Date.now() + 2 ** 31);
    expect(rec.dueAt).toBeLessThanOrEqual(MAX_DUE_AT);
    // The sweep finds nothing due, and the invocation stays as it was.
    await env.sweep();
    const after = await env.store.get(id);
    expect(after).toMatchObject({ status: 'suspended', epoch: rec.epoch, dueAt: rec.dueAt });
    expect(after?.lastFailure).toBeUndefined();
  });
});
