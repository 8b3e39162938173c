/**
 * Hostile input that reaches the durable core: keys far beyond DynamoDB's key size on every call
 * kind, and forged awakeable ids aimed at entries that are not awakeables.
 */
import { describe, expect, it } from 'vitest';
import { encodeAwakeableId } from '../../lib/protocol/awakeable-id.js';
import { invocationIdBytes } from '../../lib/ids.js';
import { MessageType } from '../../lib/protocol/framing.js';
import { eventually, inProcessRuntime, json, post } from '../support/runtime.js';
import { testServicesEndpoint } from '../support/test-services.js';

type Env = Awaited<ReturnType<typeof inProcessRuntime>>;

const completed = (env: Env, id: string) => async () => ((await env.store.get(id))?.status === 'completed' ? true : undefined);

describe('long keys', () => {
  it('take a 3000-byte key (over the 2 KB table key limit) on every call kind, and refuse one over 64 KB with 400 before anything is stored', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const key = `${'k'.repeat(2998)}-${Date.now()}`;
    // request/response
    expect(json(await post(env.ingress, '/recorder/record', { key, request: { value: 'rr' } }))).toEqual({ response: 1 });
    // idempotent request/response, twice
    const headers = { 'idempotency-key': `long-${Date.now()}` };
    expect(json(await post(env.ingress, '/recorder/record', { key, request: { value: 'idem' } }, { headers }))).toEqual({ response: 2 });
    expect(json(await post(env.ingress, '/recorder/record', { key, request: { value: 'idem' } }, { headers }))).toEqual({ response: 2 });
    // one-way through the ingress
    const invoke = await post(env.ingress, '/dev.restate.Ingress/Invoke', {
      service: 'recorder',
      method: 'record',
      argument: { key, request: { value: 'one-way' } },
    });
    expect(invoke.status).toBe(200);
    await eventually(completed(env, (json(invoke) as { id: string }).id));
    // service to service: a one-way send and a delayed send
    expect((await post(env.ingress, '/sender/send', { request: { key, value: 'sent' } })).status).toBe(200);
    expect((await post(env.ingress, '/sender/send', { request: { key, value: 'delayed', delayMs: 200 } })).status).toBe(200);
    const list = await eventually(async () => {
      const l = (json(await post(env.ingress, '/recorder/list', { key })) as { response: string[] }).response;
      return l.length === 5 ? l : undefined;
    });
    expect(list).toEqual(['rr', 'idem', 'one-way', 'sent', 'delayed']);

    const tooLong = 'x'.repeat(64 * 1024 + 1);
    const refused = await post(env.ingress, '/recorder/record', { key: tooLong, request: { value: 'no' } });
    expect(refused.status).toBe(400);
    expect(json(refused)).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/65536 bytes/) });
    const refusedInvoke = await post(env.ingress, '/dev.restate.Ingress/Invoke', {
      service: 'recorder',
      method: 'record',
      argument: { key: tooLong, request: { value: 'no' } },
    });
    expect(refusedInvoke.status).toBe(400);
    expect((await env.store.getInstance('recorder', tooLong)).queue).toEqual([]);
  });
});

describe('forged awakeable ids', () => {
  it('refuse a result for an entry that is not an awakeable, hold one for an entry not there yet, and leave the invocation unaffected', async () => {
    const env = await inProcessRuntime(testServicesEndpoint());
    const started = await post(env.ingress, '/dev.restate.Ingress/Invoke', {
      service: 'failing',
      method: 'longSleep',
      argument: { request: { tag: `forged-${Date.now()}` } },
    });
    const id = (json(started) as { id: string }).id;
    const rec = await eventually(async () => {
      const r = await env.store.get(id);
      return r?.status === 'suspended' ? r : undefined;
    });
    expect(rec.journal[0]?.type).toBe(MessageType.Sleep);
    const forged = (index: number) => encodeAwakeableId(invocationIdBytes(id), index);

    const onSleep = await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id: forged(1), json_result: 'poison' });
    expect(onSleep.status).toBe(400);
    expect(json(onSleep)).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/not an awakeable/) });
    const ahead = await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id: forged(7), json_result: 'held' });
    expect(ahead.status).toBe(200);

    // Unaffected: it runs again (the held result woke it), still sleeps on entry 1, and fails no attempt.
    const after = await eventually(async () => {
      const r = await env.store.get(id);
      return r?.status === 'suspended' && r.epoch > rec.epoch ? r : undefined;
    });
    expect(after.completions.size).toBe(0);
    expect(after.lastFailure).toBeUndefined();
    expect(after.attempts).toBe(0);

    // Finished and unknown invocations: 404.
    expect((await env.admin.kill(id, 'kill')).status).toBe(202);
    expect((await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id: forged(2), json_result: 'late' })).status).toBe(404);
    const unknown = encodeAwakeableId(invocationIdBytes('inv_AAAAAAAAAAAAAAAAAAAAAA'), 1);
    expect((await post(env.ingress, '/dev.restate.Awakeables/Resolve', { id: unknown, json_result: 'x' })).status).toBe(404);
  });
});
