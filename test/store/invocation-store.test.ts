/** The invocation store against DynamoDB Local: conditional writes, epoch fencing, TTL expiry. */
import { beforeEach, describe, expect, it } from 'vitest';
import { FencedError } from '../../lib/errors.js';
import { FencedStateError, InvocationStore, type NewInvocation } from '../../lib/store/invocation-store.js';
import type { TableClients } from '../../lib/store/table.js';
import { freshTable } from '../support/ddb.js';

const enc = new TextEncoder();
let tables: TableClients;
let clock: number;
let store: InvocationStore;

function inv(id: string, over: Partial<NewInvocation> = {}): NewInvocation {
  return { id, service: 'svc', method: 'm', key: id, kind: 'unkeyed', input: enc.encode('in'), endpointId: 'ep', retentionSec: 60, ...over };
}

beforeEach(async () => {
  tables = await freshTable('store');
  clock = 1_700_000_000_000;
  store = new InvocationStore(tables, () => clock);
});

describe('InvocationStore', () => {
  it('creates an invocation once; a second create with the same id is refused with the stored record', async () => {
    await store.create(inv('inv_a'), { take: true, leaseMs: 1000 });
    const err = await store.create(inv('inv_a', { method: 'other' }), { take: true, leaseMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FencedStateError);
    expect((err as FencedStateError).stored.method).toBe('m');
  });

  it('refuses the write of a stale attempt (older epoch) and keeps the newer one', async () => {
    const first = await store.create(inv('inv_b'), { take: true, leaseMs: 1000 });
    clock += 2000; // the lease lapsed: a new attempt takes over
    const second = await store.take('inv_b', 1000);
    expect(second.epoch).toBe(first.epoch + 1);
    const stale = store.writeAttempt(first, { append: [{ type: 0x0801, flags: 0, body: enc.encode('x') }], completions: new Map() }, { status: 'completed', result: { kind: 'value', value: enc.encode('stale') }, retentionSec: 60, releaseLock: false });
    await expect(stale).rejects.toBeInstanceOf(FencedError);
    await store.writeAttempt(second, { append: [], completions: new Map() }, { status: 'completed', result: { kind: 'value', value: enc.encode('fresh') }, retentionSec: 60, releaseLock: false });
    const rec = await store.get('inv_b');
    expect(rec?.journal).toEqual([]); // the stale entry never landed (and a finished invocation keeps no journal)
    expect(Buffer.from((rec?.result as { value: Uint8Array }).value).toString()).toBe('fresh');
  });

  it('does not let a second attempt take an invocation while its lease holds', async () => {
    await store.create(inv('inv_c'), { take: true, leaseMs: 1000 });
    await expect(store.take('inv_c', 1000)).rejects.toBeInstanceOf(FencedError);
    clock += 1001;
    await expect(store.take('inv_c', 1000)).resolves.toMatchObject({ epoch: 2, attempts: 2 });
  });

  it('keeps the first completion of an entry and refuses completions once completed', async () => {
    await store.create(inv('inv_d'), { take: true, leaseMs: 1000 });
    expect(await store.addCompletion('inv_d', 3, { kind: 'value', value: enc.encode('first') })).toBe(true);
    expect(await store.addCompletion('inv_d', 3, { kind: 'value', value: enc.encode('second') })).toBe(false);
    expect((await store.get('inv_d'))?.completions.get(3)).toEqual({ kind: 'value', value: enc.encode('first') });
    const rec = (await store.get('inv_d'))!;
    await store.writeAttempt(rec, { append: [], completions: new Map() }, { status: 'completed', result: { kind: 'value', value: new Uint8Array() }, retentionSec: 60, releaseLock: false });
    expect(await store.addCompletion('inv_d', 4, { kind: 'empty' })).toBe(false);
  });

  it('treats an invocation whose retention expired as absent, though DynamoDB still returns it', async () => {
    const rec = await store.create(inv('inv_e'), { take: true, leaseMs: 1000 });
    await store.writeAttempt(rec, { append: [], completions: new Map() }, { status: 'completed', result: { kind: 'value', value: new Uint8Array() }, retentionSec: 60, releaseLock: false });
    expect(await store.get('inv_e')).toBeDefined();
    clock += 61_000;
    expect(await store.get('inv_e')).toBeUndefined();
    // …and the id can be created again (idempotency keys are reusable after expiry).
    await expect(store.create(inv('inv_e'), { take: false, leaseMs: 0 })).resolves.toMatchObject({ status: 'invoked' });
  });

  it('serializes a key: the first in the inbox holds the lock; completing passes it on atomically with the state', async () => {
    const keyed = (id: string) => inv(id, { kind: 'keyed', key: 'k' });
    await store.createQueued(keyed('inv_k1'));
    await store.createQueued(keyed('inv_k2'));
    expect((await store.getInstance('svc', 'k')).queue).toEqual(['inv_k1', 'inv_k2']);
    const taken = await store.take('inv_k1', 1000, { fromStatuses: ['inboxed'] });
    const state = new Map([['count', enc.encode('1')]]);
    await store.writeAttempt(taken, { append: [], completions: new Map(), state }, { status: 'completed', result: { kind: 'value', value: new Uint8Array() }, retentionSec: 60, releaseLock: true });
    const instance = await store.getInstance('svc', 'k');
    expect(instance.queue).toEqual(['inv_k2']);
    expect(instance.state).toEqual(state);
  });

  it('refuses a keyed write from an invocation that does not hold the lock', async () => {
    await store.createQueued(inv('inv_l1', { kind: 'keyed', key: 'l' }));
    await store.createQueued(inv('inv_l2', { kind: 'keyed', key: 'l' }));
    const notHolder = await store.take('inv_l2', 1000, { fromStatuses: ['inboxed'] });
    const write = store.writeAttempt(notHolder, { append: [], completions: new Map(), state: new Map([['x', enc.encode('1')]]) }, { status: 'suspended', leaseUntil: 0 });
    await expect(write).rejects.toBeInstanceOf(FencedError);
    expect((await store.getInstance('svc', 'l')).state.size).toBe(0);
  });

  it('kill bumps the epoch, so the running attempt can no longer write', async () => {
    const running = await store.create(inv('inv_m'), { take: true, leaseMs: 1000 });
    const before = await store.forceComplete('inv_m', { kind: 'failure', code: 10, message: 'killed' });
    expect(before?.status).toBe('invoked');
    await expect(store.writeAttempt(running, { append: [], completions: new Map() }, { status: 'completed', result: { kind: 'value', value: new Uint8Array() }, retentionSec: 60, releaseLock: false })).rejects.toBeInstanceOf(FencedError);
    expect(await store.forceComplete('inv_m', { kind: 'failure', code: 10, message: 'killed' })).toBeUndefined();
  });

  it('finds lapsed leases through the sparse index, and not completed invocations', async () => {
    await store.create(inv('inv_n1'), { take: true, leaseMs: 1000 });
    const done = await store.create(inv('inv_n2'), { take: true, leaseMs: 1000 });
    await store.writeAttempt(done, { append: [], completions: new Map() }, { status: 'completed', result: { kind: 'value', value: new Uint8Array() }, retentionSec: 60, releaseLock: false });
    expect(await store.lapsedLeases(clock + 500)).toEqual([]);
    expect(await store.lapsedLeases(clock + 1500)).toEqual(['inv_n1']);
  });

  it('reads back stored bytes exactly (binary journal entries and state values)', async () => {
    const rec = await store.create(inv('inv_o'), { take: true, leaseMs: 1000 });
    const body = new Uint8Array([0, 255, 1, 2]);
    await store.writeAttempt(rec, { append: [{ type: 0xfc01, flags: 0x8000, body }], completions: new Map([[1, { kind: 'failure', code: 3, message: 'x' }]]), state: new Map([['k', new Uint8Array([9, 0])]]) }, { status: 'suspended', leaseUntil: 0 });
    const got = (await store.get('inv_o'))!;
    expect(got.journal).toEqual([{ type: 0xfc01, flags: 0x8000, body }]);
    expect(got.completions.get(1)).toEqual({ kind: 'failure', code: 3, message: 'x' });
    expect(got.state.get('k')).toEqual(new Uint8Array([9, 0]));
  });
});
