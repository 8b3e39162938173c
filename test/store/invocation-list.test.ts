/**
 * The admin listing against DynamoDB Local: newest first over the 16 shards of the `list` index,
 * filters, a cursor that is stable while invocations keep arriving, and what a page costs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { InvocationLister, type InvocationSummary } from '../../lib/store/invocation-list.js';
import { InvocationStatus, InvocationStore, NO_PROGRESS, type NewInvocation } from '../../lib/store/invocation-store.js';
import type { TableClients } from '../../lib/store/table.js';
import { freshTable } from '../support/ddb.js';

const enc = new TextEncoder();
const N = 240;
const SERVICES = ['svc.A', 'svc.B', 'svc.C'];

let tables: TableClients;
let clock: number;
let store: InvocationStore;
let lister: InvocationLister;

function inv(i: number, over: Partial<NewInvocation> = {}): NewInvocation {
  const id = `inv_list${String(i).padStart(18, '0')}`;
  return {
    id,
    service: SERVICES[i % 3]!,
    method: i % 2 === 0 ? 'even' : 'odd',
    key: id,
    kind: 'unkeyed',
    input: enc.encode('in'),
    endpointId: 'ep',
    retentionSec: 3600,
    ...over,
  };
}

/** Accepts in parallel batches (DynamoDB Local takes ~20 at a time well). */
async function acceptAll(invs: NewInvocation[]): Promise<void> {
  for (let i = 0; i < invs.length; i += 20) await Promise.all(invs.slice(i, i + 20).map((v) => store.accept(v, { kind: 'runnable' })));
}

async function allPages(filter: Parameters<InvocationLister['list']>[0], limit: number): Promise<{ rows: InvocationSummary[]; pages: number }> {
  const rows: InvocationSummary[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await lister.list(filter, limit, cursor);
    rows.push(...page.invocations);
    cursor = page.cursor;
    pages++;
  } while (cursor !== undefined && pages < 1000);
  return { rows, pages };
}

const newestFirst = (a: { createdAt: number; id: string }, b: { createdAt: number; id: string }) =>
  b.createdAt - a.createdAt || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0);

beforeAll(async () => {
  tables = await freshTable('list');
  // A clock that moves 1 ms per accept in batches of 20: ties on createdAt are common, as in production.
  clock = 1_700_000_000_000;
  store = new InvocationStore(tables, () => clock);
  lister = new InvocationLister(tables, () => clock);
  for (let i = 0; i < N; i += 20) {
    await acceptAll(Array.from({ length: 20 }, (_, j) => inv(i + j)));
    clock += 1;
  }
  // Some of them move on: completed (kept for retention) and keyed ones in an inbox.
  for (let i = 0; i < 30; i++) {
    const t = await store.take(inv(i).id, 1000);
    if (!t.taken) throw new Error('not taken');
    await store.complete(t.rec, NO_PROGRESS, { kind: 'value', value: enc.encode('ok') });
  }
  await acceptAll([
    inv(1000, { kind: 'keyed', key: 'alice', service: 'svc.K' }),
    inv(1001, { kind: 'keyed', key: 'bob', service: 'svc.K' }),
    inv(1002, { kind: 'keyed', key: 'alice', service: 'svc.K' }),
  ]);
}, 120_000);

describe('InvocationLister', () => {
  it('lists every invocation once, newest first, over pages of 25', async () => {
    const { rows, pages } = await allPages({}, 25);

    expect(rows).toHaveLength(N + 3);
    expect(new Set(rows.map((r) => r.id)).size).toBe(N + 3);
    expect(rows.map((r) => r.id)).toEqual([...rows].sort(newestFirst).map((r) => r.id));
    expect(pages).toBe(Math.ceil((N + 3) / 25));
  });

  it('filters by service and method in the index, and by status on the items', async () => {
    const b = await allPages({ service: 'svc.B' }, 30);
    const bOdd = await allPages({ service: 'svc.B', method: 'odd' }, 30);
    const completed = await allPages({ status: [InvocationStatus.Completed] }, 10);
    const invokedOrInboxed = await allPages({ status: [InvocationStatus.Invoked, InvocationStatus.Inboxed] }, 50);

    expect(b.rows).toHaveLength(N / 3);
    expect(b.rows.every((r) => r.service === 'svc.B')).toBe(true);
    expect(bOdd.rows.map((r) => r.id).sort()).toEqual(
      Array.from({ length: N }, (_, i) => inv(i))
        .filter((v) => v.service === 'svc.B' && v.method === 'odd')
        .map((v) => v.id)
        .sort(),
    );
    expect(completed.rows.map((r) => r.id).sort()).toEqual(Array.from({ length: 30 }, (_, i) => inv(i).id).sort());
    expect(completed.rows.every((r) => r.result?.kind === 'value' && r.dueAt === undefined)).toBe(true);
    expect(invokedOrInboxed.rows).toHaveLength(N - 30 + 3);
  });

  it('filters by key (a hash in the index, the key itself on the item)', async () => {
    const alice = await lister.list({ service: 'svc.K', key: 'alice' }, 10);

    expect(alice.invocations.map((r) => r.id)).toEqual([inv(1002).id, inv(1000).id]);
    expect(alice.invocations.every((r) => r.key === 'alice' && r.status === InvocationStatus.Inboxed)).toBe(true);
    expect(alice.cursor).toBeUndefined();
  });

  it('reads a page of 50 with 16 index queries and 50 items when nothing is filtered out', async () => {
    const page = await lister.list({}, 50);

    expect(page.invocations).toHaveLength(50);
    expect(page.reads.items).toBe(50);
    // One chunk of 8 per shard covers a page of 50 in expectation; a skewed shard needs a refill.
    expect(page.reads.queries).toBeGreaterThanOrEqual(16);
    expect(page.reads.queries).toBeLessThanOrEqual(24);
  });

  it('keeps paging stable while new invocations arrive: no duplicates, no misses among those that existed before', async () => {
    const before = await allPages({}, 200).then((p) => p.rows.map((r) => r.id));
    // A writer accepts new invocations (on every shard) the whole time the pages are read.
    let next = 5000;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        clock += 1;
        await acceptAll(Array.from({ length: 10 }, () => inv(next++)));
      }
    })();
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    try {
      do {
        const page = await lister.list({}, 20, cursor);
        seen.push(...page.invocations.map((r) => r.id));
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined);
    } finally {
      writing = false;
      await writer;
    }

    expect(new Set(seen).size).toBe(seen.length);
    expect(before.filter((id) => !seen.includes(id))).toEqual([]);
    expect(next).toBeGreaterThan(5000);
    expect(pages).toBeGreaterThan(5);
  }, 60_000);

  it('leaves a page short but keeps a cursor when a rare status hides among many (bounded reads)', async () => {
    const page = await lister.list({ status: [InvocationStatus.Suspended] }, 5);

    expect(page.invocations).toEqual([]);
    expect(page.reads.items).toBeLessThanOrEqual(50);
    expect(page.cursor).toBeDefined();
  });

  it.each([
    { case: 'limit 0', limit: 0, cursor: undefined },
    { case: 'limit 201', limit: 201, cursor: undefined },
    { case: 'a made-up cursor', limit: 10, cursor: 'bm90LWEtY3Vyc29y' },
  ])('refuses $case with InvalidArgumentError', async ({ limit, cursor }) => {
    await expect(lister.list({}, limit, cursor)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
