/**
 * Regression (found in review of the durable core): children get deterministic ids (parent id + entry index) and idempotent calls get
 * deterministic ids (their scope). Once a parent's retention passed, the same idempotency key is
 * accepted again as a new invocation with the same id (createOp replaces the expired record) — but
 * its children's ids are the old children's ids, and those children are kept for the default
 * retention (children use idempotencyDefaultRetentionSec, not the parent's). The new parent's
 * child creations are then "dropped" as "already existed": a call waits forever for a result
 * nobody will send (suspended, nothing due), a one-way send never runs.
 */
import { describe, expect, it } from 'vitest';
import { InvocationStatus } from '../../lib/store/invocation-store.js';
import { childInvocationId } from '../../lib/driver/enqueue.js';
import { json, post, testConfig } from '../support/runtime.js';
import { testServicesEndpoint } from '../support/test-services.js';
import { reviewRuntime } from './harness.js';

const config = () => testConfig({ inactivityTimeoutMs: 1_000, abortTimeoutMs: 1_000, ingressDeadlineMs: 8_000 });

describe('an idempotency key used again after its retention passed', () => {
  it('runs the new invocation to its end: its call gets a result (not suspended forever on a dropped child)', async () => {
    const env = await reviewRuntime(testServicesEndpoint(), { config: config(), deliverKicks: true });
    const headers = { 'idempotency-key': `reuse-${Date.now()}`, 'idempotency-retention-period': '1' };
    const first = await post(env.ingress, '/chainB/b', { request: { v: 'one' } }, { headers });
    expect(first.status).toBe(200);
    const id = first.headers['x-restate-id']!;
    expect(json(first)).toEqual({ response: 'b(c(one))' });

    // The parent's retention (1 s) passes; its child's (the default, 30 min) does not.
    const firstRun = (await env.store.get(id))!;
    env.clock.skew += 5_000;
    expect(await env.store.get(id)).toBeUndefined();
    expect((await env.store.get(childInvocationId(firstRun, 1)))?.status).toBe(InvocationStatus.Completed);

    const second = await post(env.ingress, '/chainB/b', { request: { v: 'one' } }, { headers });
    const rec = await env.store.get(id);
    // a new run of chainB/b with its answer — before the fix: its Invoke's child creation was
    // dropped (the old child has that id), it suspends on entry 1 with nothing due, and stays so.
    expect({ status: second.status, stored: rec?.status, due: rec?.dueAt !== undefined || rec?.status === InvocationStatus.Completed }).toEqual({
      status: 200,
      stored: InvocationStatus.Completed,
      due: true,
    });
  });

  it('runs the new invocation\'s one-way send (not dropped as "already existed")', async () => {
    const env = await reviewRuntime(testServicesEndpoint(), { config: config() });
    const key = `reuse-send-${Date.now()}`;
    const headers = { 'idempotency-key': key, 'idempotency-retention-period': '1' };
    const first = await post(env.ingress, '/sender/send', { request: { key, value: 'v' } }, { headers });
    expect(first.status).toBe(200);
    const id = first.headers['x-restate-id']!;
    const firstRun = (await env.store.get(id))!;
    // Run the send: the recorder records 'v' once.
    await env.sweep();
    await env.sweep();
    expect(json(await post(env.ingress, '/recorder/list', { key }))).toEqual({ response: ['v'] });

    env.clock.skew += 5_000;
    expect(await env.store.get(id)).toBeUndefined();
    const second = await post(env.ingress, '/sender/send', { request: { key, value: 'v' } }, { headers });
    expect(second.status).toBe(200);
    for (let i = 0; i < 3; i++) await env.sweep();
    // The send's child id is the one the first invocation's send already used (and still holds).
    const child = await env.store.get(childInvocationId(firstRun, 1));
    expect(child?.status).toBe(InvocationStatus.Completed);
    // the second (new) invocation's send ran too — before the fix: it was dropped.
    expect(json(await post(env.ingress, '/recorder/list', { key }))).toEqual({ response: ['v', 'v'] });
  });
});
