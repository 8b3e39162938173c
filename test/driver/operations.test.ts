/**
 * Operational behaviour: keyed concurrency, timeouts of a hanging endpoint, the ingress deadline,
 * idempotency expiry, private services on every ingress path, invocation ids in logs and spans.
 */
import { trace, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { childInvocationId } from '../../lib/driver/enqueue.js';
import { createLogger } from '../../lib/log.js';
import { servicesEndpoint } from '../../examples/services.js';
import { eventually, get, inProcessRuntime, json, post, testConfig } from '../support/runtime.js';
import { testServicesEndpoint } from '../support/test-services.js';

describe('keyed services', () => {
  it('50 concurrent increments of one key end at exactly 50', async () => {
    const env = await inProcessRuntime(servicesEndpoint());
    const results = await Promise.all(Array.from({ length: 50 }, () => post(env.ingress, '/counter/add', { key: 'hot' })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(json(await post(env.ingress, '/counter/get', { key: 'hot' }))).toEqual({ response: 50 });
    const seen = results.map((r) => (json(r) as { response: number }).response).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  }, 60_000);

  it('runs different keys in parallel while one key is held', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const started = Date.now();
    const holds = await Promise.all(['p1', 'p2', 'p3'].map((key) => post(env.ingress, '/recorder/hold', { key, request: { ms: 700 } })));
    expect(holds.map((r) => json(r))).toEqual(Array(3).fill({ response: 'held' }));
    // Serialized they would need 2.1 s.
    expect(Date.now() - started).toBeLessThan(1900);
  });
});

describe('timeouts', () => {
  it('stops an attempt that hangs past inactivity + abort timeout and retries it; max attempts end it clearly', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), {
      config: testConfig({ inactivityTimeoutMs: 150, abortTimeoutMs: 150, retry: { initialIntervalMs: 10, factor: 2, maxIntervalMs: 50, maxAttempts: 2 } }),
    });
    const res = await post(env.ingress, '/effects/slow', { request: { ms: 5_000 } });
    expect(res.status).toBe(408);
    expect((json(res) as { message: string }).message).toMatch(/gave up after 2 attempts: the endpoint did not answer within 300 ms/);
    const status = (await env.admin.status(res.headers['x-restate-id']!)) as { attempts: number; last_failure?: { code: number } };
    expect(status.attempts).toBe(2);
  });

  it('answers deadline_exceeded with the invocation id before the ingress deadline, and attach gets the result later', async () => {
    const env = await inProcessRuntime(servicesEndpoint(), { config: testConfig({ ingressDeadlineMs: 300 }), inlineWaitMs: 50 });
    const res = await post(env.ingress, '/sleeper/sleep', { request: { millis: 1_000 } });
    expect(res.status).toBe(408);
    expect(json(res)).toMatchObject({ code: 'deadline_exceeded' });
    const id = res.headers['x-restate-id']!;
    expect(id).toMatch(/^inv_/);
    const peek = await get(env.ingress, `/restate/invocation/${id}/output`);
    expect(peek.status).toBe(470);
    const done = await eventually(async () => {
      const r = await get(env.ingress, `/restate/invocation/${id}/output`);
      return r.status === 200 ? r : undefined;
    });
    expect(json(done)).toEqual({ response: 'slept 1000' });
  });
});

describe('idempotency expiry and one-way ids', () => {
  it('runs again once the retention passed', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const headers = { 'idempotency-key': 'exp', 'idempotency-retention-period': '1' };
    const first = await post(env.ingress, '/recorder/record', { key: 'exp', request: { value: 'a' } }, { headers });
    expect(json(first)).toEqual({ response: 1 });
    expect(json(await post(env.ingress, '/recorder/record', { key: 'exp', request: { value: 'a' } }, { headers }))).toEqual({ response: 1 });
    await new Promise((r) => setTimeout(r, 2_100));
    expect(json(await post(env.ingress, '/recorder/record', { key: 'exp', request: { value: 'a' } }, { headers }))).toEqual({ response: 2 });
  });

  it('gives every Ingress/Invoke without a key a new id', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const body = { service: 'chainC', method: 'c', argument: { request: { v: 'q' } } };
    const a = json(await post(env.ingress, '/dev.restate.Ingress/Invoke', body)) as { id: string };
    const b = json(await post(env.ingress, '/dev.restate.Ingress/Invoke', body)) as { id: string };
    expect(a.id).not.toBe(b.id);
  });
});

describe('private services', () => {
  it('are refused at the ingress by every path and still callable from other services', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { private: ['chainC'] });
    const direct = await post(env.ingress, '/chainC/c', { request: { v: 'x' } });
    expect(direct.status).toBe(403);
    expect(json(direct)).toEqual({ code: 'permission_denied', message: 'Service chainC is not accessible' });
    const proto = await post(env.ingress, '/chainC/c', new Uint8Array(), { contentType: 'application/proto' });
    expect(proto.status).toBe(403);
    const oneWay = await post(env.ingress, '/dev.restate.Ingress/Invoke', { service: 'chainC', method: 'c', argument: { request: { v: 'x' } } });
    expect(oneWay.status).toBe(403);
    // chainA → chainB → chainC: service-to-service calls reach the private service.
    const chain = await post(env.ingress, '/chainA/a', { request: { v: 'x' } });
    expect(json(chain)).toEqual({ response: 'a(b(c(x)))' });
    // The private child's own result is not readable from outside.
    const middle = childInvocationId((await env.store.get(chain.headers['x-restate-id']!))!, 1);
    const childId = childInvocationId((await env.store.get(middle))!, 1);
    expect((await env.store.get(childId))?.service).toBe('chainC');
    expect((await get(env.ingress, `/restate/invocation/${childId}/output`)).status).toBe(403);
    expect((await get(env.ingress, `/restate/invocation/${childId}/attach`)).status).toBe(403);
  });
});

describe('observability', () => {
  it('puts restate.invocation.id in every log line about an invocation and on its span', async () => {
    const lines: Record<string, unknown>[] = [];
    const spans: { name: string; attributes: Record<string, unknown> }[] = [];
    const tracer = {
      startActiveSpan(name: string, options: { attributes?: Record<string, unknown> }, _ctx: unknown, fn: (span: Span) => unknown) {
        const record = { name, attributes: { ...(options.attributes ?? {}) } };
        spans.push(record);
        const span = {
          setAttribute: (k: string, v: unknown) => void (record.attributes[k] = v),
          setStatus: () => span,
          end: () => undefined,
        } as unknown as Span;
        return fn(span);
      },
    } as unknown as Tracer;
    const provider: TracerProvider = { getTracer: () => tracer };
    trace.setGlobalTracerProvider(provider);
    try {
      const env = await inProcessRuntime(servicesEndpoint(), {
        log: createLogger({ level: 'debug', sink: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) }),
      });
      const res = await post(env.ingress, '/greeter/greet', { request: { name: 'Log' } });
      const id = res.headers['x-restate-id'];
      const about = lines.filter((l) => typeof l.msg === 'string' && /invocation|attempt/.test(l.msg as string));
      expect(about.length).toBeGreaterThanOrEqual(2);
      for (const line of about) expect(line['restate.invocation.id']).toBe(id);
      expect(spans.find((s) => s.attributes['restate.invocation.id'] === id)?.name).toBe('invoke greeter/greet');
    } finally {
      trace.disable();
    }
  });
});

describe('size limits', () => {
  it('refuses a request larger than the invocation item can hold with 413 resource_exhausted', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const res = await post(env.ingress, '/chainC/c', { request: { v: 'x'.repeat(300 * 1024) } });
    expect(res.status).toBe(413);
    expect(json(res)).toMatchObject({ code: 'resource_exhausted' });
  });

  it('stops an invocation whose state outgrows the item limit with a clear terminal error, and keeps the key usable', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const big = 'y'.repeat(150 * 1024);
    expect(json(await post(env.ingress, '/recorder/record', { key: 'big', request: { value: big } }))).toEqual({ response: 1 });
    expect(json(await post(env.ingress, '/recorder/record', { key: 'big', request: { value: big } }))).toEqual({ response: 2 });
    const third = await post(env.ingress, '/recorder/record', { key: 'big', request: { value: big } });
    expect(third.status).toBe(429);
    expect((json(third) as { message: string }).message).toMatch(/storage limit/);
    // The lock passed on: the key still answers, with the state from before.
    expect((json(await post(env.ingress, '/recorder/list', { key: 'big' })) as { response: string[] }).response).toHaveLength(2);
  });
});

describe('retry accounting', () => {
  it('restarts the attempt count when an invocation resumes from a suspension', async () => {
    const env = await inProcessRuntime(servicesEndpoint(), {
      config: testConfig({ retry: { initialIntervalMs: 10, factor: 2, maxIntervalMs: 50, maxAttempts: 2 } }),
      inlineWaitMs: 0,
    });
    // Suspends on its sleep, then a timer resumes it: the resumed attempt is attempt 1 again, so
    // a long chain of suspensions never counts towards max attempts.
    const res = await post(env.ingress, '/sleeper/sleep', { request: { millis: 50 } });
    expect(json(res)).toEqual({ response: 'slept 50' });
    const status = (await env.admin.status(res.headers['x-restate-id']!)) as { attempts: number };
    expect(status.attempts).toBe(1);
  });
});
