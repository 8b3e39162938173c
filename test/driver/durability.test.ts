/**
 * Durability rules, each as the failure it prevents (real SDK services, DynamoDB Local):
 * the table is the only truth (kicks and timers dropped, the sweep still finishes everything),
 * terminal is terminal, effects commit with the journal, kill works across processes, a
 * synchronous caller's deadline hands the attempt on, idempotent retries compare requests, not bytes.
 */
import { describe, expect, it } from 'vitest';
import { InvocationStatus } from '../../lib/store/invocation-store.js';
import { childInvocationId } from '../../lib/driver/enqueue.js';
import { injectFaults } from '../support/dynamo-faults.js';
import { eventually, get, inProcessRuntime, json, post, testConfig } from '../support/runtime.js';
import { probes, testServicesEndpoint } from '../support/test-services.js';

type Env = Awaited<ReturnType<typeof inProcessRuntime>>;

/** Sweeps in the background until `done` holds (what the periodic sweep does on its own, faster). */
async function sweepUntil<T>(env: Env, done: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  let sweeping = true;
  const loop = (async () => {
    while (sweeping) {
      await env.sweep().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return await eventually(done, timeoutMs);
  } finally {
    sweeping = false;
    await loop;
  }
}

const completed = (env: Env, id: string) => async () => {
  const rec = await env.store.get(id);
  return rec?.status === InvocationStatus.Completed ? rec : undefined;
};

async function invoke(env: Env, service: string, method: string, argument: unknown, headers: Record<string, string> = {}) {
  const res = await post(env.ingress, '/dev.restate.Ingress/Invoke', { service, method, argument }, { headers });
  expect(res.status).toBe(200);
  return (json(res) as { id: string }).id;
}

describe('the table is the only truth', () => {
  it('finishes a call chain with every kick and timer dropped, through the sweep alone', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { kicks: 'drop', inlineWaitMs: 0 });
    const id = await invoke(env, 'chainA', 'a', { request: { v: 'x' } });
    const rec = await sweepUntil(env, completed(env, id));
    expect(Buffer.from((rec.result as { value: Uint8Array }).value).toString()).toContain('a(b(c(x)))');
    expect(env.kicks.dropped).toBeGreaterThan(0);
  });

  it('does not bring a finished child back when telling its caller fails', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { kicks: 'fail' });
    const id = await post(env.ingress, '/dev.restate.Ingress/Invoke', { service: 'chainB', method: 'b', argument: { request: { v: 'y' } } }).then(
      (r) => (json(r) as { id: string }).id,
    );
    const rec = await sweepUntil(env, completed(env, id));
    expect(Buffer.from((rec.result as { value: Uint8Array }).value).toString()).toContain('b(c(y))');
    // The child finished once and stays finished: its completion reached the caller in the same write.
    const child = await env.store.get(childInvocationId(rec, 1));
    expect(child?.status).toBe(InvocationStatus.Completed);
    expect(child?.epoch).toBe(1);
  });

  it('wakes a suspended invocation whose completion arrived while its kick was lost; a repeated Resolve changes nothing', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { kicks: 'drop' });
    const key = `lost-${Date.now()}`;
    const id = await invoke(env, 'waiter', 'viaIngress', { request: { key } });
    // The awakeable id reaches recorder/<key> through a one-way send (driven by the sweep).
    const awakeableId = await sweepUntil(env, async () => {
      const list = json(await post(env.ingress, '/recorder/list', { key })) as { response?: string[] };
      return list.response?.[0];
    });
    await sweepUntil(env, async () => ((await env.store.get(id))?.status === InvocationStatus.Suspended ? true : undefined));
    expect((await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id: awakeableId, json_result: 'first' })).status).toBe(200);
    expect((await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id: awakeableId, json_result: 'second' })).status).toBe(200);
    const rec = await sweepUntil(env, completed(env, id));
    expect(Buffer.from((rec.result as { value: Uint8Array }).value).toString()).toContain('got first');
  });

  it('lets a waiting caller revive an invocation whose wake-up was lost, without the sweep', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { kicks: 'drop', inlineWaitMs: 0 });
    const res = await post(env.ingress, '/effects/race', { request: {} });
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ response: 'first sleep won' });
  });

  it('delivers a delayed send whose timer was lost, at its time', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { kicks: 'drop' });
    const key = `delayed-${Date.now()}`;
    const started = Date.now();
    const res = await post(env.ingress, '/sender/send', { request: { key, value: 'late', delayMs: 300 } });
    expect(res.status).toBe(200);
    const list = await sweepUntil(env, async () => {
      const l = json(await post(env.ingress, '/recorder/list', { key })) as { response?: string[] };
      return l.response?.length ? l.response : undefined;
    });
    expect(list).toEqual(['late']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('runs queued callers of one key in order with every kick lost: waiters are never taken out of turn', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { kicks: 'drop' });
    const key = `fifo-${Date.now()}`;
    const ids: string[] = [];
    for (const value of ['1', '2', '3', '4']) ids.push(await invoke(env, 'recorder', 'record', { key, request: { value } }));
    for (const id of ids) await sweepUntil(env, completed(env, id));
    expect(json(await post(env.ingress, '/recorder/list', { key }))).toEqual({ response: ['1', '2', '3', '4'] });
    // Nobody is left holding or waiting for the lock, and no attempt was wasted on a waiter.
    expect((await env.store.getInstance('recorder', key)).queue).toEqual([]);
    for (const id of ids) expect((await env.store.get(id))?.attempts).toBeLessThanOrEqual(1);
  });
});

describe('accepted means stored', () => {
  it('answers Ingress/Invoke with an error, not an id, when the enqueue cannot be written', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const faults = injectFaults(env.tables.doc);
    faults.add({ command: 'TransactWriteItemsCommand', kind: 'conflict', times: 1000 });
    const res = await post(env.ingress, '/dev.restate.Ingress/Invoke', {
      service: 'recorder',
      method: 'record',
      argument: { key: 'busy', request: { value: 'v' } },
    });
    faults.clear();
    expect(res.status).toBe(503);
    expect(json(res)).toMatchObject({ code: 'unavailable' });
    expect((await env.store.getInstance('recorder', 'busy')).queue).toEqual([]);
  });

  it('takes a keyed call with a very long key through every call kind', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const key = 'k'.repeat(3000);
    expect(json(await post(env.ingress, '/recorder/record', { key, request: { value: 'rr' } }))).toEqual({ response: 1 });
    const id = await invoke(env, 'recorder', 'record', { key, request: { value: 'one-way' } });
    await eventually(completed(env, id));
    expect(json(await post(env.ingress, '/recorder/list', { key }))).toEqual({ response: ['rr', 'one-way'] });
    const tooLong = await post(env.ingress, '/recorder/record', { key: 'k'.repeat(70_000), request: { value: 'x' } });
    expect(tooLong.status).toBe(400);
  });
});

describe('several processes', () => {
  it('kills an attempt running in another process: its late write is fenced and creates no child', async () => {
    const config = testConfig({ inactivityTimeoutMs: 5_000, abortTimeoutMs: 1_000 });
    const a = await inProcessRuntime(testServicesEndpoint(), { config });
    const b = await inProcessRuntime(testServicesEndpoint(), { config, tables: a.tables });
    const call = post(a.ingress, '/effects/slowThenCall', { request: { ms: 2_000, v: 'never' } });
    const id = await eventually(async () =>
      (await b.store.dueInvocations(Date.now() + 60_000)).find(Boolean) ? (await b.store.dueInvocations(Date.now() + 60_000))[0] : undefined,
    );
    // Process B's admin kills it; process A's attempt is not cut in process (no shortcut across processes).
    expect((await b.admin.kill(id, 'kill')).status).toBe(202);
    const res = await call;
    expect(res.status).toBe(409);
    expect(json(res)).toMatchObject({ code: 'aborted' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await a.store.get(childInvocationId((await a.store.get(id))!, 1))).toBeUndefined();
    expect((await a.store.get(id))?.result).toEqual({ kind: 'failure', code: 10, message: 'killed' });
  });

  it('hands the attempt on at the ingress deadline: released at once, finished by a kick, not after the lease', async () => {
    const config = testConfig({ ingressDeadlineMs: 2_500 });
    const env = await inProcessRuntime(testServicesEndpoint(), { config });
    const started = Date.now();
    const res = await post(env.ingress, '/effects/slow', { request: { ms: 3_000 } });
    expect(res.status).toBe(408);
    expect(Date.now() - started).toBeLessThan(2_600);
    const id = res.headers['x-restate-id']!;
    const rec = await env.store.get(id);
    // Not held for the lease (inactivity + abort + 5 s): due now, for whoever takes it next.
    expect(rec?.leaseUntil).toBeLessThanOrEqual(Date.now());
    expect(rec?.dueAt).toBeLessThanOrEqual(Date.now());
    const done = await eventually(completed(env, id), 10_000);
    expect(Buffer.from((done.result as { value: Uint8Array }).value).toString()).toContain('finished');
    expect(json(await get(env.ingress, `/restate/invocation/${id}/output`))).toEqual({ response: 'finished' });
  });
});

describe('idempotent retries', () => {
  it('treats the same JSON object with another key order as the same request', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const headers = { 'idempotency-key': `order-${Date.now()}` };
    const first = await post(env.ingress, '/chainC/c', { request: { v: 'q', a: 1, b: { x: 1, y: 2 } } }, { headers });
    const second = await post(env.ingress, '/chainC/c', { request: { b: { y: 2, x: 1 }, a: 1, v: 'q' } }, { headers });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(json(second)).toEqual(json(first));
    expect(second.headers['x-restate-id']).toBe(first.headers['x-restate-id']);
    const third = await post(env.ingress, '/chainC/c', { request: { v: 'other' } }, { headers });
    expect(third.status).toBe(422);
  });
});

describe('side effects', () => {
  it('counts attempts only for attempts that ran', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const tag = `att-${Date.now()}`;
    const res = await post(env.ingress, '/effects/flaky', { request: { tag, n: 1 } });
    expect(res.status).toBe(200);
    expect(probes.attempts.get(tag)).toBe(2);
    expect((await env.admin.status(res.headers['x-restate-id']!)) as { attempts: number }).toMatchObject({ attempts: 2 });
  });
});
