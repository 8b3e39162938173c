/**
 * Durable execution features with real SDK 0.8.1 services: service-to-service calls, one-way and
 * delayed sends, awakeables, side effects across retries, combinators, failures, idempotency.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, get, inProcessRuntime, json, post, testConfig } from '../support/runtime.js';
import { probes, testServicesEndpoint } from '../support/test-services.js';

let env: Awaited<ReturnType<typeof inProcessRuntime>>;

beforeAll(async () => {
  env = await inProcessRuntime(testServicesEndpoint(), {
    config: testConfig({ retry: { initialIntervalMs: 20, factor: 2, maxIntervalMs: 200, maxAttempts: 4 } }),
  });
});

describe('service-to-service calls', () => {
  it('runs a call chain A → B → C and returns the composed result', async () => {
    const res = await post(env.ingress, '/chainA/a', { request: { v: 'x' } });
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ response: 'a(b(c(x)))' });
  });

  it('propagates a terminal failure of the callee to the caller', async () => {
    const res = await post(env.ingress, '/chainA/callFailing', { request: {} });
    expect(json(res)).toEqual({ response: 'caught: nope' });
  });

  it('delivers one-way sends', async () => {
    const res = await post(env.ingress, '/sender/send', { request: { key: 'oneway', value: 'v1' } });
    expect(json(res)).toEqual({ response: 'sent' });
    const list = await eventually(async () => {
      const r = json(await post(env.ingress, '/recorder/list', { key: 'oneway' })) as { response: string[] };
      return r.response.length > 0 ? r.response : undefined;
    });
    expect(list).toEqual(['v1']);
  });

  it('delivers delayed sends no earlier than their time', async () => {
    const started = Date.now();
    await post(env.ingress, '/sender/send', { request: { key: 'delayed', value: 'later', delayMs: 400 } });
    const early = json(await post(env.ingress, '/recorder/list', { key: 'delayed' })) as { response: string[] };
    expect(early.response).toEqual([]);
    await eventually(async () => {
      const r = json(await post(env.ingress, '/recorder/list', { key: 'delayed' })) as { response: string[] };
      return r.response.length > 0 ? r.response : undefined;
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });
});

describe('awakeables', () => {
  it('are resolved by another service', async () => {
    const res = await post(env.ingress, '/waiter/viaService', { request: { value: 'hi' } });
    expect(json(res)).toEqual({ response: 'got hi' });
  });

  it('are resolved through dev.restate.Awakeables/Resolve at the ingress, first completion wins', async () => {
    const pending = post(env.ingress, '/waiter/viaIngress', { request: { key: 'aw1' } });
    const id = await eventually(async () => (json(await post(env.ingress, '/recorder/list', { key: 'aw1' })) as { response: string[] }).response[0]);
    expect(id).toMatch(/^prom_1/);
    const ok = await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id, json_result: 'from outside' });
    expect(ok.status).toBe(200);
    const late = await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id, json_result: 'too late' });
    expect(late.status).toBe(200);
    expect(json(await pending)).toEqual({ response: 'got from outside' });
  });

  it('are rejected through dev.restate.Awakeables/Reject', async () => {
    const pending = post(env.ingress, '/waiter/viaIngress', { request: { key: 'aw2' } });
    const id = await eventually(async () => (json(await post(env.ingress, '/recorder/list', { key: 'aw2' })) as { response: string[] }).response[0]);
    await post(env.ingress, '/dev.restate.Awakeables/Reject', { id, reason: 'no thanks' });
    expect(json(await pending)).toEqual({ response: 'rejected: no thanks' });
  });

  it('refuse a malformed awakeable id with 400', async () => {
    const res = await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id: 'prom_1!!', json_result: 1 });
    expect(res.status).toBe(400);
    expect(json(res)).toMatchObject({ code: 'invalid_argument' });
  });
});

describe('side effects, combinators and failures', () => {
  it('runs each side effect once although the attempt is retried', async () => {
    const res = await post(env.ingress, '/effects/flaky', { request: { tag: 'se1', n: 3 } });
    expect(json(res)).toEqual({ response: 1 + 2 + 3 });
    expect(probes.sideEffectRuns.get('se1')).toBe(3);
    expect(probes.attempts.get('se1')).toBe(2);
  });

  it('resolves a race of two sleeps with the first', async () => {
    const started = Date.now();
    const res = await post(env.ingress, '/effects/race', { request: {} });
    expect(json(res)).toEqual({ response: 'first sleep won' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('answers a terminal failure with its code', async () => {
    const res = await post(env.ingress, '/failing/terminal', { request: {} });
    expect(res.status).toBe(412);
    expect(json(res)).toEqual({ code: 'failed_precondition', message: 'nope' });
  });

  it('gives up after max attempts with a clear terminal error', async () => {
    const res = await post(env.ingress, '/failing/always', { request: {} });
    expect(res.status).toBe(500);
    expect((json(res) as { message: string }).message).toMatch(/gave up after 4 attempts: always fails/);
    const status = await env.admin.status(res.headers['x-restate-id']!);
    expect(status).toMatchObject({ status: 'completed', attempts: 4 });
  });
});

describe('idempotency keys', () => {
  it('runs a call once for sequential and concurrent duplicates, with the same answer', async () => {
    const headers = { 'idempotency-key': 'idem-1' };
    const first = await post(env.ingress, '/recorder/record', { key: 'idem', request: { value: 'x' } }, { headers });
    const again = await post(env.ingress, '/recorder/record', { key: 'idem', request: { value: 'x' } }, { headers });
    expect(json(first)).toEqual({ response: 1 });
    expect(json(again)).toEqual({ response: 1 });
    expect(again.headers['x-restate-id']).toBe(first.headers['x-restate-id']);
    expect(again.headers['idempotency-expires']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const burst = await Promise.all(
      Array.from({ length: 20 }, () =>
        post(env.ingress, '/recorder/record', { key: 'idem', request: { value: 'y' } }, { headers: { 'idempotency-key': 'idem-2' } }),
      ),
    );
    expect(new Set(burst.map((r) => JSON.stringify(json(r))))).toEqual(new Set([JSON.stringify({ response: 2 })]));
    expect(json(await post(env.ingress, '/recorder/list', { key: 'idem' }))).toEqual({ response: ['x', 'y'] });
  });

  it('refuses a reused key with another body (422) and bad retention headers (400)', async () => {
    await post(env.ingress, '/chainC/c', { request: { v: '1' } }, { headers: { 'idempotency-key': 'k-body' } });
    const other = await post(env.ingress, '/chainC/c', { request: { v: '2' } }, { headers: { 'idempotency-key': 'k-body' } });
    expect(other.status).toBe(422);
    expect(json(other)).toMatchObject({ code: 'failed_precondition' });
    expect((json(other) as { message: string }).message).toContain("'k-body'");
    for (const bad of ['-1', 'abc', '1.5', '99999999999999999999']) {
      const res = await post(
        env.ingress,
        '/chainC/c',
        { request: { v: '1' } },
        { headers: { 'idempotency-key': 'k-ret', 'idempotency-retention-period': bad } },
      );
      expect([bad, res.status]).toEqual([bad, 400]);
    }
  });

  it('scopes a key to service + method (+ key of keyed services), and caches terminal failures too', async () => {
    const headers = { 'idempotency-key': 'scoped' };
    const a = await post(env.ingress, '/recorder/record', { key: 'scope-a', request: { value: 'x' } }, { headers });
    const b = await post(env.ingress, '/recorder/record', { key: 'scope-b', request: { value: 'x' } }, { headers });
    expect(a.headers['x-restate-id']).not.toBe(b.headers['x-restate-id']);
    expect([json(a), json(b)]).toEqual([{ response: 1 }, { response: 1 }]);
    const other = await post(env.ingress, '/chainC/c', { request: { v: 'x' } }, { headers });
    expect(json(other)).toEqual({ response: 'c(x)' });
    const t1 = await post(env.ingress, '/failing/terminal', { request: {} }, { headers: { 'idempotency-key': 'term' } });
    const t2 = await post(env.ingress, '/failing/terminal', { request: {} }, { headers: { 'idempotency-key': 'term' } });
    expect([t1.status, t2.status]).toEqual([412, 412]);
    expect(json(t2)).toEqual(json(t1));
    expect(t2.headers['x-restate-id']).toBe(t1.headers['x-restate-id']);
  });

  it('refuses an empty key and a retention period without a key', async () => {
    const empty = await post(env.ingress, '/chainC/c', { request: { v: '1' } }, { headers: { 'idempotency-key': '' } });
    expect(empty.status).toBe(400);
    const alone = await post(env.ingress, '/chainC/c', { request: { v: '1' } }, { headers: { 'idempotency-retention-period': '60' } });
    expect(alone.status).toBe(400);
    expect((json(alone) as { message: string }).message).toMatch(/idempotency-key/);
  });

  it('Ingress/Invoke returns an id at once, the same id again with a key, and 404 for unknown targets', async () => {
    const res = await post(
      env.ingress,
      '/dev.restate.Ingress/Invoke',
      { service: 'recorder', method: 'record', argument: { key: 'inv', request: { value: 'one-way' } } },
      { headers: { 'idempotency-key': 'ii' } },
    );
    expect(res.status).toBe(200);
    const { id } = json(res) as { id: string };
    expect(id).toMatch(/^inv_/);
    const again = json(
      await post(
        env.ingress,
        '/dev.restate.Ingress/Invoke',
        { service: 'recorder', method: 'record', argument: { key: 'inv', request: { value: 'one-way' } } },
        { headers: { 'idempotency-key': 'ii' } },
      ),
    ) as { id: string };
    expect(again.id).toBe(id);
    const out = await eventually(async () => {
      const r = await get(env.ingress, `/restate/invocation/${id}/output`);
      return r.status === 200 ? r : undefined;
    });
    expect(json(out)).toEqual({ response: 1 });
    expect((await post(env.ingress, '/dev.restate.Ingress/Invoke', { service: 'nope', method: 'x', argument: {} })).status).toBe(404);
    expect((await post(env.ingress, '/dev.restate.Ingress/Invoke', { service: 'recorder', method: 'record', argument: { bogus: 1 } })).status).toBe(400);
  });
});
