/**
 * The invocation store against DynamoDB Local: one test per transition and its condition, the due
 * index written in the same request that makes something due, and every refusal telling "exists"
 * from "conflict" from "too large" from "stale".
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  InvocationExistsError,
  InvocationStore,
  ItemTooLargeError,
  NO_PROGRESS,
  StaleAttemptError,
  StoreUnavailableError,
  type AttemptProgress,
  type InvocationRecord,
  type NewInvocation,
} from '../../lib/store/invocation-store.js';
import { MessageType } from '../../lib/protocol/framing.js';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_SCHEMA, type TableClients } from '../../lib/store/table.js';
import { freshTable } from '../support/ddb.js';
import { injectFaults } from '../support/dynamo-faults.js';

const enc = new TextEncoder();
const value = (s: string) => ({ kind: 'value' as const, value: enc.encode(s) });
let tables: TableClients;
let clock: number;
let store: InvocationStore;

function inv(id: string, over: Partial<NewInvocation> = {}): NewInvocation {
  return { id, service: 'svc', method: 'm', key: id, kind: 'unkeyed', input: enc.encode('in'), endpointId: 'ep', retentionSec: 60, ...over };
}
const keyed = (id: string, key = 'k') => inv(id, { kind: 'keyed', key });
const entry = (type: number, body = 'x') => ({ type, flags: 0, body: enc.encode(body) });
const progress = (over: Partial<AttemptProgress> = {}): AttemptProgress => ({ append: [], completions: new Map(), effects: [], ...over });

/** What the `pinned` index holds for a deployment (the index is eventually consistent; Local is not). */
async function pinnedIndexIds(endpointId: string): Promise<string[]> {
  const res = await tables.doc.send(
    new QueryCommand({
      TableName: tables.tableName,
      IndexName: TABLE_SCHEMA.pinnedIndex.name,
      KeyConditionExpression: '#p = :p',
      ExpressionAttributeNames: { '#p': TABLE_SCHEMA.pinnedIndex.partitionKey },
      ExpressionAttributeValues: { ':p': endpointId },
    }),
  );
  return (res.Items ?? []).map((i) => (i.pk as string).slice('inv#'.length)).sort();
}

async function taken(id: string, over: Partial<NewInvocation> = {}): Promise<InvocationRecord> {
  return store.accept(inv(id, over), { kind: 'take', leaseMs: 1000 });
}

async function takeOrFail(id: string, opts: { head?: boolean } = {}): Promise<InvocationRecord> {
  const t = await store.take(id, 1000, opts);
  if (!t.taken) throw new Error(`not taken: ${t.stored?.status}`);
  return t.rec;
}

async function dueIds(before = clock + 1): Promise<string[]> {
  return (await store.dueInvocations(before)).sort();
}

beforeEach(async () => {
  tables = await freshTable('store');
  clock = 1_700_000_000_000;
  store = new InvocationStore(tables, () => clock);
});

describe('accept', () => {
  it('creates an invocation once; a second accept of the id is refused with the stored record', async () => {
    await taken('inv_a');
    const err = await store.accept(inv('inv_a', { method: 'other' }), { kind: 'runnable' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvocationExistsError);
    expect((err as InvocationExistsError).stored.method).toBe('m');
  });

  it('makes every new invocation due in the same write: runnable now, taken at its lease end, delayed at its time', async () => {
    await store.accept(inv('inv_run'), { kind: 'runnable' });
    await store.accept(inv('inv_take'), { kind: 'take', leaseMs: 5000 });
    await store.accept(inv('inv_later'), { kind: 'delayed', until: clock + 60_000 });
    await store.accept(keyed('inv_key'), { kind: 'runnable' });
    expect(await dueIds()).toEqual(['inv_key', 'inv_run']);
    expect(await dueIds(clock + 5001)).toEqual(['inv_key', 'inv_run', 'inv_take']);
    expect(await dueIds(clock + 60_001)).toEqual(['inv_key', 'inv_later', 'inv_run', 'inv_take']);
  });

  it('puts a keyed invocation and its place in the inbox in one transaction', async () => {
    await store.accept(keyed('inv_k1'), { kind: 'runnable' });
    await store.accept(keyed('inv_k2'), { kind: 'runnable' });
    expect((await store.getInstance('svc', 'k')).queue).toEqual(['inv_k1', 'inv_k2']);
    expect((await store.get('inv_k2'))?.status).toBe('inboxed');
  });

  it('retries a transaction conflict and never reports a failed enqueue as success', async () => {
    const faults = injectFaults(tables.doc);
    faults.add({ command: 'TransactWriteItemsCommand', kind: 'conflict', times: 2 });
    await store.accept(keyed('inv_c1'), { kind: 'runnable' });
    expect(faults.hits.conflict).toBe(2);
    expect((await store.getInstance('svc', 'k')).queue).toEqual(['inv_c1']);
    // Conflicts that never stop: an error the caller can retry, not "already exists".
    faults.add({ command: 'TransactWriteItemsCommand', kind: 'conflict', times: 100 });
    const err = await store.accept(keyed('inv_c2'), { kind: 'runnable' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(await store.get('inv_c2')).toBeUndefined();
    expect((await store.getInstance('svc', 'k')).queue).toEqual(['inv_c1']);
  });

  it('tells "too large" apart: an inbox that outgrows the item limit is refused as such', async () => {
    const bigKey = 'b'.repeat(60 * 1024);
    const err = await store
      .accept(inv('inv_big', { kind: 'keyed', key: bigKey, input: new Uint8Array(350 * 1024) }), { kind: 'runnable' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ItemTooLargeError);
    expect(await store.get('inv_big')).toBeUndefined();
  });

  it('recognises its own write when the answer was lost (the request was retried)', async () => {
    const faults = injectFaults(tables.doc);
    faults.add({ command: 'PutItemCommand', kind: 'lose-answer' });
    const rec = await store.accept(inv('inv_lost'), { kind: 'runnable' });
    expect(rec.id).toBe('inv_lost');
    expect(faults.hits['lose-answer']).toBe(1);
  });

  it('stores keys of any length (hashed into the table key, kept in full)', async () => {
    const longKey = 'λ'.repeat(30_000);
    await store.accept(inv('inv_long', { kind: 'keyed', key: longKey }), { kind: 'runnable' });
    expect((await store.getInstance('svc', longKey)).queue).toEqual(['inv_long']);
    expect((await store.get('inv_long'))?.key).toBe(longKey);
  });

  it('treats an invocation whose retention expired as absent, and lets the id be used again', async () => {
    const rec = await taken('inv_e');
    await store.complete(rec, NO_PROGRESS, value('done'));
    expect(await store.get('inv_e')).toBeDefined();
    clock += 61_000;
    expect(await store.get('inv_e')).toBeUndefined();
    await expect(store.accept(inv('inv_e'), { kind: 'runnable' })).resolves.toMatchObject({ status: 'invoked' });
  });
});

describe('take', () => {
  it('is refused while the lease holds, and allowed once it lapsed (epoch + 1)', async () => {
    const first = await taken('inv_t');
    expect(await store.take('inv_t', 1000)).toMatchObject({ taken: false, stored: { epoch: first.epoch } });
    clock += 1001;
    expect(await store.take('inv_t', 1000)).toMatchObject({ taken: true, rec: { epoch: first.epoch + 1 } });
  });

  it('takes a suspended invocation only when it is due', async () => {
    const rec = await taken('inv_s');
    await store.suspend(rec, progress({ append: [entry(MessageType.Awakeable)] }), { awaiting: [{ index: 1, awakeable: true }] });
    expect((await store.take('inv_s', 1000)).taken).toBe(false);
    expect(await store.completeAwakeable('inv_s', 1, value('v'))).toBe('stored');
    expect((await store.take('inv_s', 1000)).taken).toBe(true);
  });

  it('takes an inboxed invocation only as the head, when the caller says it is', async () => {
    await store.accept(keyed('inv_h1'), { kind: 'runnable' });
    expect((await store.take('inv_h1', 1000)).taken).toBe(false);
    expect((await store.take('inv_h1', 1000, { head: true })).taken).toBe(true);
  });

  it('does not count a refused take as an attempt', async () => {
    const rec = await taken('inv_att');
    await store.take('inv_att', 1000);
    await store.take('inv_att', 1000);
    expect((await store.get('inv_att'))?.attempts).toBe(rec.attempts);
  });
});

describe('attempt transitions', () => {
  it('refuses the write of a stale attempt (older epoch) and keeps the newer one', async () => {
    const first = await taken('inv_b');
    clock += 2000;
    const second = await takeOrFail('inv_b');
    await expect(store.complete(first, progress({ append: [entry(0x0801)] }), value('stale'))).rejects.toBeInstanceOf(StaleAttemptError);
    await store.complete(second, NO_PROGRESS, value('fresh'));
    const rec = await store.get('inv_b');
    expect(rec?.result).toEqual(value('fresh'));
  });

  it('never moves a completed invocation back: a retry after completion is refused', async () => {
    const rec = await taken('inv_done');
    await store.complete(rec, NO_PROGRESS, value('r'));
    await expect(store.retryLater(rec, clock + 100, { code: 14, message: 'follow-up failed', at: clock })).rejects.toBeInstanceOf(StaleAttemptError);
    await expect(store.release(rec, clock)).rejects.toBeInstanceOf(StaleAttemptError);
    expect(await store.get('inv_done')).toMatchObject({ status: 'completed', result: value('r') });
    expect(await dueIds(clock + 10_000)).toEqual([]);
  });

  it('accepts the same write twice when its first answer was lost (journal length and status tell)', async () => {
    const rec = await taken('inv_twice');
    const faults = injectFaults(tables.doc);
    faults.add({ command: 'UpdateItemCommand', kind: 'lose-answer' });
    const step = progress({ append: [entry(0x0801, 'a')] });
    await expect(store.continueInline(rec, step, { leaseUntil: clock + 2000 })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.continueInline(rec, step, { leaseUntil: clock + 2000 })).resolves.toMatchObject({ kind: 'committed' });
    expect((await store.get('inv_twice'))?.journal).toHaveLength(1);
  });

  it('indexes a suspension at its wake time, or not at all while only a completion can wake it', async () => {
    const sleeper = await taken('inv_sl');
    await store.suspend(sleeper, progress({ append: [entry(MessageType.Sleep)] }), { dueAt: clock + 30_000, awaiting: [{ index: 1, awakeable: false }] });
    const waiter = await taken('inv_aw');
    await store.suspend(waiter, progress({ append: [entry(MessageType.Awakeable)] }), { awaiting: [{ index: 1, awakeable: true }] });
    expect(await dueIds(clock + 29_000)).toEqual([]);
    expect(await dueIds(clock + 30_001)).toEqual(['inv_sl']);
  });

  it('refuses a suspension when what it waits for arrived meanwhile, writing nothing', async () => {
    const rec = await taken('inv_race');
    await store.continueInline(rec, progress({ append: [entry(MessageType.Awakeable)] }), { leaseUntil: clock + 2000 });
    const mid = { ...rec, journal: [entry(MessageType.Awakeable)], leaseUntil: clock + 2000 };
    expect(await store.completeAwakeable('inv_race', 1, value('early'))).toBe('stored');
    const out = await store.suspend(mid, progress({ append: [entry(MessageType.Sleep)] }), {
      dueAt: clock + 60_000,
      awaiting: [{ index: 1, awakeable: true }],
    });
    expect(out.kind).toBe('woken');
    const stored = await store.get('inv_race');
    expect(stored?.status).toBe('invoked');
    expect(stored?.journal).toHaveLength(1);
    expect(stored?.awakeables.get(1)).toEqual(value('early'));
  });

  it('refuses a suspension when a cancel was asked for meanwhile', async () => {
    const rec = await taken('inv_cx');
    await store.requestCancel('inv_cx');
    const out = await store.suspend(rec, progress({ append: [entry(MessageType.Sleep)] }), {
      dueAt: clock + 60_000,
      awaiting: [{ index: 1, awakeable: false }],
    });
    expect(out).toMatchObject({ kind: 'woken', stored: { cancelRequested: true } });
  });

  it('restarts the attempt count at a suspension and gives a release back its attempt', async () => {
    const rec = await taken('inv_cnt');
    expect(rec.attempts).toBe(1);
    await store.release(rec, clock);
    expect((await store.get('inv_cnt'))?.attempts).toBe(0);
    const again = await takeOrFail('inv_cnt');
    await store.suspend(again, progress({ append: [entry(MessageType.Sleep)] }), { dueAt: clock + 10, awaiting: [{ index: 1, awakeable: false }] });
    expect((await store.get('inv_cnt'))?.attempts).toBe(0);
  });

  it('commits effects with the journal: a fenced attempt creates no child', async () => {
    const rec = await taken('inv_p');
    await store.kill('inv_p', { kind: 'failure', code: 10, message: 'killed' });
    const child = inv('inv_child', { caller: { invocationId: 'inv_p', entryIndex: 1 } });
    await expect(
      store.suspend(rec, progress({ append: [entry(MessageType.Invoke)], effects: [{ kind: 'create', inv: child }] }), {
        awaiting: [{ index: 1, awakeable: false }],
      }),
    ).rejects.toBeInstanceOf(StaleAttemptError);
    expect(await store.get('inv_child')).toBeUndefined();
  });

  it('creates children, keyed sends (in their inbox) and delayed sends with the entries, each due', async () => {
    const rec = await taken('inv_q');
    const effects = [
      { kind: 'create' as const, inv: inv('inv_c_call', { caller: { invocationId: 'inv_q', entryIndex: 1 } }) },
      { kind: 'create' as const, inv: keyed('inv_c_k1', 'x') },
      { kind: 'create' as const, inv: keyed('inv_c_k2', 'x') },
      { kind: 'create' as const, inv: inv('inv_c_later'), delayedUntil: clock + 10_000 },
    ];
    const out = await store.suspend(
      rec,
      progress({
        append: [entry(MessageType.Invoke), entry(MessageType.BackgroundInvoke), entry(MessageType.BackgroundInvoke), entry(MessageType.BackgroundInvoke)],
        effects,
      }),
      { awaiting: [{ index: 1, awakeable: false }] },
    );
    expect(out).toMatchObject({ kind: 'committed' });
    expect(out.kind === 'committed' && out.created.map((c) => c.inv.id)).toEqual(['inv_c_call', 'inv_c_k1', 'inv_c_k2', 'inv_c_later']);
    expect((await store.getInstance('svc', 'x')).queue).toEqual(['inv_c_k1', 'inv_c_k2']);
    expect(await dueIds()).toEqual(['inv_c_call', 'inv_c_k1', 'inv_c_k2']);
    expect(await dueIds(clock + 10_001)).toContain('inv_c_later');
  });

  it("completes a child and its caller's entry in one write; the caller becomes due", async () => {
    const parent = await taken('inv_par');
    await store.suspend(
      parent,
      progress({
        append: [entry(MessageType.Invoke)],
        effects: [{ kind: 'create', inv: inv('inv_kid', { caller: { invocationId: 'inv_par', entryIndex: 1 } }) }],
      }),
      { awaiting: [{ index: 1, awakeable: false }] },
    );
    expect(await dueIds()).toEqual(['inv_kid']);
    const kid = await takeOrFail('inv_kid');
    await store.complete(kid, NO_PROGRESS, value('kid result'));
    expect((await store.get('inv_par'))?.completions.get(1)).toEqual(value('kid result'));
    expect(await dueIds()).toEqual(['inv_par']);
  });

  it("still completes a child whose caller was killed (the caller's part is dropped)", async () => {
    const parent = await taken('inv_par2');
    await store.suspend(
      parent,
      progress({
        append: [entry(MessageType.Invoke)],
        effects: [{ kind: 'create', inv: inv('inv_kid2', { caller: { invocationId: 'inv_par2', entryIndex: 1 } }) }],
      }),
      { awaiting: [{ index: 1, awakeable: false }] },
    );
    await store.kill('inv_par2', { kind: 'failure', code: 10, message: 'killed' });
    const kid = await takeOrFail('inv_kid2');
    await expect(store.complete(kid, NO_PROGRESS, value('late'))).resolves.toMatchObject({ kind: 'committed' });
    expect((await store.get('inv_kid2'))?.status).toBe('completed');
    expect((await store.get('inv_par2'))?.result).toEqual({ kind: 'failure', code: 10, message: 'killed' });
  });
});

describe('keyed instances', () => {
  it('passes the lock on atomically with the state, and makes the next holder due', async () => {
    await store.accept(keyed('inv_k1'), { kind: 'runnable' });
    await store.accept(keyed('inv_k2'), { kind: 'runnable' });
    const holder = await takeOrFail('inv_k1', { head: true });
    // The waiter was found by the sweep and parked: it is out of the index until its turn.
    expect(await store.parkWaiter((await store.get('inv_k2'))!)).toBe('parked');
    expect(await dueIds(clock + 10_000)).toEqual(['inv_k1']);
    const state = new Map([['count', enc.encode('1')]]);
    const out = await store.complete({ ...holder, queue: ['inv_k1', 'inv_k2'] }, progress({ state }), value('1'));
    expect(out).toMatchObject({ kind: 'committed', nextHolder: 'inv_k2' });
    const instance = await store.getInstance('svc', 'k');
    expect(instance.queue).toEqual(['inv_k2']);
    expect(instance.state).toEqual(state);
    expect(await dueIds()).toEqual(['inv_k2']);
  });

  it('reads the inbox again when it changed since the attempt read it', async () => {
    await store.accept(keyed('inv_r1'), { kind: 'runnable' });
    const holder = await takeOrFail('inv_r1', { head: true });
    await store.accept(keyed('inv_r2'), { kind: 'runnable' });
    const out = await store.complete({ ...holder, queue: ['inv_r1'] }, NO_PROGRESS, value('x'));
    expect(out).toMatchObject({ kind: 'committed', nextHolder: 'inv_r2' });
  });

  it('never parks the head: a hand-over that already happened is not undone', async () => {
    await store.accept(keyed('inv_n1'), { kind: 'runnable' });
    await store.accept(keyed('inv_n2'), { kind: 'runnable' });
    const holder = await takeOrFail('inv_n1', { head: true });
    const waiter = (await store.get('inv_n2'))!;
    await store.complete({ ...holder, queue: ['inv_n1', 'inv_n2'] }, NO_PROGRESS, value('x'));
    expect(await store.parkWaiter(waiter)).toBe('not-parked');
    expect(await dueIds()).toEqual(['inv_n2']);
  });

  it('refuses a keyed state write from an invocation that does not hold the lock', async () => {
    await store.accept(keyed('inv_l1', 'l'), { kind: 'runnable' });
    await store.accept(keyed('inv_l2', 'l'), { kind: 'runnable' });
    const notHolder = await takeOrFail('inv_l2', { head: true });
    await expect(store.suspend(notHolder, progress({ state: new Map([['x', enc.encode('1')]]) }), { awaiting: [] })).rejects.toBeInstanceOf(StaleAttemptError);
    expect((await store.getInstance('svc', 'l')).state.size).toBe(0);
  });

  it('activates a keyed delayed send into its inbox exactly once, retrying conflicts', async () => {
    await store.accept(keyed('inv_d', 'd'), { kind: 'delayed', until: clock + 100 });
    expect(await store.activateDelayed({ id: 'inv_d', service: 'svc', key: 'd' })).toBe(false); // not due
    clock += 101;
    const faults = injectFaults(tables.doc);
    faults.add({ command: 'TransactWriteItemsCommand', kind: 'conflict' });
    expect(await store.activateDelayed({ id: 'inv_d', service: 'svc', key: 'd' })).toBe(true);
    expect(await store.activateDelayed({ id: 'inv_d', service: 'svc', key: 'd' })).toBe(false);
    expect((await store.getInstance('svc', 'd')).queue).toEqual(['inv_d']);
    expect((await store.get('inv_d'))?.status).toBe('inboxed');
  });
});

describe('kill', () => {
  it('bumps the epoch, so the running attempt can no longer write; a second kill is a no-op', async () => {
    const running = await taken('inv_m');
    const ended = await store.kill('inv_m', { kind: 'failure', code: 10, message: 'killed' });
    expect(ended?.before.status).toBe('invoked');
    await expect(store.complete(running, NO_PROGRESS, value('late'))).rejects.toBeInstanceOf(StaleAttemptError);
    expect(await store.kill('inv_m', { kind: 'failure', code: 10, message: 'killed' })).toBeUndefined();
    expect(await dueIds(clock + 10_000)).toEqual([]);
  });

  it('kills a lock holder and hands the lock over in one write, so a retried kill finds the key free', async () => {
    await store.accept(keyed('inv_x1', 'x'), { kind: 'runnable' });
    await store.accept(keyed('inv_x2', 'x'), { kind: 'runnable' });
    await takeOrFail('inv_x1', { head: true });
    const faults = injectFaults(tables.doc);
    faults.add({ command: 'TransactWriteItemsCommand', kind: 'lose-answer' });
    // The answer is lost, but the kill landed: the next read shows it, and it is reported as ours
    // (so the caller also kills the children and wakes the next holder), not as "already finished".
    const ended = await store.kill('inv_x1', { kind: 'failure', code: 10, message: 'killed' });
    expect(faults.hits['lose-answer']).toBe(1);
    expect(ended?.before.status).toBe('invoked');
    expect(ended?.nextHolder).toBe('inv_x2');
    // A DELETE sent again: the kill had landed, and so had the hand-over.
    expect(await store.kill('inv_x1', { kind: 'failure', code: 10, message: 'killed' })).toBeUndefined();
    expect((await store.getInstance('svc', 'x')).queue).toEqual(['inv_x2']);
    expect(await dueIds()).toContain('inv_x2');
  });

  it('takes a waiter out of the inbox and tells its caller', async () => {
    const parent = await taken('inv_pp');
    await store.suspend(
      parent,
      progress({
        append: [entry(MessageType.Invoke)],
        effects: [{ kind: 'create', inv: { ...keyed('inv_w2', 'w'), caller: { invocationId: 'inv_pp', entryIndex: 1 } } }],
      }),
      { awaiting: [{ index: 1, awakeable: false }] },
    );
    await store.accept(keyed('inv_w3', 'w'), { kind: 'runnable' });
    await store.kill('inv_w2', { kind: 'failure', code: 10, message: 'killed' });
    expect((await store.getInstance('svc', 'w')).queue).toEqual(['inv_w3']);
    expect((await store.get('inv_pp'))?.completions.get(1)).toEqual({ kind: 'failure', code: 10, message: 'killed' });
  });
});

describe('awakeables from outside', () => {
  it('applies a result only to an awakeable entry; first wins; finished and unknown invocations take none', async () => {
    const rec = await taken('inv_aw');
    await store.continueInline(rec, progress({ append: [entry(MessageType.Sleep), entry(MessageType.Awakeable)] }), { leaseUntil: clock + 1000 });
    expect(await store.completeAwakeable('inv_aw', 1, value('forged'))).toBe('not-awakeable');
    expect(await store.completeAwakeable('inv_aw', 2, value('first'))).toBe('stored');
    expect(await store.completeAwakeable('inv_aw', 2, value('second'))).toBe('duplicate');
    // An index the journal does not have yet is held (applied only if an awakeable turns up there).
    expect(await store.completeAwakeable('inv_aw', 7, value('early'))).toBe('stored');
    const stored = (await store.get('inv_aw'))!;
    expect(stored.awakeables.get(2)).toEqual(value('first'));
    expect(stored.completions.size).toBe(0);
    expect(await store.completeAwakeable('inv_nope', 1, value('x'))).toBe('not-found');
    await store.complete({ ...rec, journal: stored.journal, leaseUntil: clock + 1000 }, NO_PROGRESS, value('end'));
    expect(await store.completeAwakeable('inv_aw', 2, value('late'))).toBe('finished');
  });

  it('leaves a delayed or queued invocation alone', async () => {
    await store.accept(inv('inv_dl'), { kind: 'delayed', until: clock + 60_000 });
    expect(await store.completeAwakeable('inv_dl', 1, value('x'))).toBe('not-started');
    expect(await dueIds(clock + 1000)).toEqual([]);
  });
});

describe('due index', () => {
  it('lists what is due, and re-arms from it after a restart', async () => {
    await taken('inv_i1');
    const done = await taken('inv_i2');
    await store.complete(done, NO_PROGRESS, value('x'));
    expect(await dueIds(clock + 500)).toEqual([]);
    expect(await dueIds(clock + 1500)).toEqual(['inv_i1']);
    expect(await store.dueBetween(clock, clock + 2000)).toEqual([{ id: 'inv_i1', dueAt: clock + 1000 }]);
  });

  it('counts unfinished invocations pinned to a deployment', async () => {
    const a = await taken('inv_pin1');
    const b = await taken('inv_pin2');
    await store.suspend(a, progress({ append: [entry(MessageType.Sleep)], pin: 'ep-v1' }), { dueAt: clock + 10, awaiting: [{ index: 1, awakeable: false }] });
    await store.continueInline(b, progress({ append: [entry(0x0801)], pin: 'ep-v1' }), { leaseUntil: clock + 5000 });
    expect(await store.countPinned('ep-v1')).toBe(2);
    // Only the suspended one is in the index: the attempt under way is found through its lease.
    expect(await pinnedIndexIds('ep-v1')).toEqual(['inv_pin1']);
    await store.complete({ ...b, journal: [entry(0x0801)], leaseUntil: clock + 5000 }, NO_PROGRESS, value('x'));
    expect(await store.countPinned('ep-v1')).toBe(1);
    expect(await store.countPinned('ep-v2')).toBe(0);
  });

  it('writes the pinned index entry when the attempt ends without finishing, not at each continuation', async () => {
    const rec = await taken('inv_pin3');
    await store.continueInline(rec, progress({ append: [entry(0x0801)], pin: 'ep-v3' }), { leaseUntil: clock + 5000 });
    expect(await pinnedIndexIds('ep-v3')).toEqual([]);
    expect(await store.countPinned('ep-v3')).toBe(1);
    const after = { ...rec, journal: [entry(0x0801)], leaseUntil: clock + 5000 };
    // A failed attempt waits for its retry: still runnable (leased until then), so still counted.
    await store.retryLater(after, clock + 100, { code: 13, message: 'boom', at: clock });
    expect(await store.countPinned('ep-v3')).toBe(1);
    // Parked on a sleep: now in the index, and counted once.
    clock += 200;
    const again = await store.take('inv_pin3', 1000);
    if (!again.taken) throw new Error('the retry should be takeable');
    await store.suspend(again.rec, progress({ append: [entry(MessageType.Sleep)], pin: 'ep-v3' }), {
      dueAt: clock + 60_000,
      awaiting: [{ index: 1, awakeable: false }],
    });
    expect(await pinnedIndexIds('ep-v3')).toEqual(['inv_pin3']);
    expect(await store.countPinned('ep-v3')).toBe(1);
  });

  it('reads back stored bytes exactly (binary journal entries, completions and state)', async () => {
    const rec = await taken('inv_o');
    const body = new Uint8Array([0, 255, 1, 2]);
    await store.suspend(
      rec,
      {
        append: [{ type: 0xfc01, flags: 0x8000, body }],
        completions: new Map([[1, { kind: 'failure', code: 3, message: 'x' }]]),
        state: new Map([['k', new Uint8Array([9, 0])]]),
        effects: [],
      },
      { awaiting: [] },
    );
    const got = (await store.get('inv_o'))!;
    expect(got.journal).toEqual([{ type: 0xfc01, flags: 0x8000, body }]);
    expect(got.completions.get(1)).toEqual({ kind: 'failure', code: 3, message: 'x' });
    expect(got.state.get('k')).toEqual(new Uint8Array([9, 0]));
  });
});
