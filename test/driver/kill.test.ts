/** Kill and graceful cancel through the admin service, with real SDK services. */
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, inProcessRuntime, json, post } from '../support/runtime.js';
import { probes, testServicesEndpoint } from '../support/test-services.js';
import { childInvocationId } from '../../lib/driver/enqueue.js';

let env: Awaited<ReturnType<typeof inProcessRuntime>>;
beforeAll(async () => {
  env = await inProcessRuntime(testServicesEndpoint());
});

/** Starts a call without waiting for it and returns its id once the invocation exists. */
async function start(path: string, body: unknown) {
  const res = await post(env.ingress, '/dev.restate.Ingress/Invoke', { service: path.split('/')[1], method: path.split('/')[2], argument: body });
  expect(res.status).toBe(200);
  return (json(res) as { id: string }).id;
}

const statusOf = async (id: string) => ((await env.admin.status(id)) as { status: string }).status;

describe('kill', () => {
  it('kills a suspended (sleeping) invocation with ABORTED "killed"', async () => {
    const id = await start('/failing/longSleep', { request: { tag: 'k-susp' } });
    await eventually(async () => ((await statusOf(id)) === 'suspended' ? true : undefined));
    const killed = await env.admin.kill(id, 'kill');
    expect(killed.status).toBe(202);
    expect((await env.store.get(id))?.result).toEqual({ kind: 'failure', code: 10, message: 'killed' });
    expect(probes.compensations.some((c) => c.startsWith('k-susp:'))).toBe(false);
  });

  it('answers a waiting ingress caller with 409 aborted', async () => {
    const id = await start('/failing/longSleep', { request: { tag: 'k-wait' } });
    await eventually(async () => ((await statusOf(id)) === 'suspended' ? true : undefined));
    const attach = env.ingress({
      method: 'GET',
      path: `/restate/invocation/${id}/attach`,
      query: new URLSearchParams(),
      headers: new Headers(),
      body: new Uint8Array(0),
    });
    await new Promise((r) => setTimeout(r, 100));
    await env.admin.kill(id, 'kill');
    const res = await attach;
    expect(res.status).toBe(409);
    expect(json(res)).toEqual({ code: 'aborted', message: 'killed' });
  });

  it('kills a running attempt: its late writes are fenced and the result stays "killed"', async () => {
    const id = await start('/effects/slow', { request: { ms: 600 } });
    await eventually(async () => ((await env.store.get(id))?.attempts ? true : undefined));
    await env.admin.kill(id, 'kill');
    await new Promise((r) => setTimeout(r, 900));
    expect((await env.store.get(id))?.result).toEqual({ kind: 'failure', code: 10, message: 'killed' });
  });

  it('kills children behind pending calls, recursively', async () => {
    const parent = await start('/chainA/parentOfSleeper', { request: { tag: 'k-tree' } });
    await eventually(async () => ((await statusOf(parent)) === 'suspended' ? true : undefined));
    const child = childInvocationId((await env.store.get(parent))!, 1);
    await eventually(async () => ((await env.store.get(child))?.status === 'suspended' ? true : undefined));
    await env.admin.kill(parent, 'kill');
    expect((await env.store.get(parent))?.result).toMatchObject({ code: 10 });
    expect((await env.store.get(child))?.result).toMatchObject({ code: 10 });
  });

  it('removes an invocation from its key inbox, and passes the lock on when the holder is killed', async () => {
    const holder = await start('/recorder/hold', { key: 'inbox', request: { ms: 60_000 } });
    await eventually(async () => ((await statusOf(holder)) === 'suspended' ? true : undefined));
    const queued = await start('/recorder/record', { key: 'inbox', request: { value: 'never' } });
    const next = await start('/recorder/record', { key: 'inbox', request: { value: 'after' } });
    expect(await statusOf(queued)).toBe('inboxed');
    await env.admin.kill(queued, 'kill');
    expect((await env.store.getInstance('recorder', 'inbox')).queue).toEqual([holder, next]);
    await env.admin.kill(holder, 'kill');
    await eventually(async () => ((await statusOf(next)) === 'completed' ? true : undefined));
    expect(json(await post(env.ingress, '/recorder/list', { key: 'inbox' }))).toEqual({ response: ['after'] });
  });

  it('is a clear no-op for a finished invocation; malformed and unknown ids are refused', async () => {
    const done = await post(env.ingress, '/chainC/c', { request: { v: 'z' } });
    const res = await env.admin.kill(done.headers['x-restate-id']!, 'kill');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'completed' });
    await expect(env.admin.kill('not-an-id', 'kill')).rejects.toMatchObject({ httpStatus: 400 });
    await expect(env.admin.kill('inv_AAAAAAAAAAAAAAAAAAAAAA', 'kill')).rejects.toMatchObject({ httpStatus: 404 });
  });
});

describe('cancel', () => {
  it('fails the pending sleep with CANCELLED so the handler compensates', async () => {
    const id = await start('/failing/longSleep', { request: { tag: 'c1' } });
    await eventually(async () => ((await statusOf(id)) === 'suspended' ? true : undefined));
    const res = await env.admin.kill(id, 'cancel');
    expect(res.status).toBe(202);
    const rec = await eventually(async () => {
      const r = await env.store.get(id);
      return r?.status === 'completed' ? r : undefined;
    });
    expect(rec.result).toMatchObject({ kind: 'failure', code: 1 });
    expect(probes.compensations.some((c) => c.startsWith('c1:'))).toBe(true);
  });

  it('cancels children behind pending calls first; the parent sees the failure', async () => {
    const parent = await start('/chainA/parentOfSleeper', { request: { tag: 'c-tree' } });
    const child = childInvocationId((await env.store.get(parent))!, 1);
    await eventually(async () => ((await env.store.get(child))?.status === 'suspended' ? true : undefined));
    await env.admin.kill(parent, 'cancel');
    const rec = await eventually(async () => {
      const r = await env.store.get(parent);
      return r?.status === 'completed' ? r : undefined;
    });
    expect(rec.result).toMatchObject({ kind: 'failure', code: 1 });
    expect(probes.compensations.some((c) => c.startsWith('c-tree:'))).toBe(true);
  });
});
