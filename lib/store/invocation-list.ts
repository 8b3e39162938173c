/**
 * The admin listing of invocations, newest first, from the sharded `list` index — never a scan.
 *
 *   shard 0  ─ Query(ls#0, sk < cursor, backwards) ─┐
 *   …                                               ├─ merge by sk (createdAt#id), newest first
 *   shard 15 ─ Query(ls#15, …) ─────────────────────┘      │
 *                                    BatchGetItem of the candidates ─▶ status filter ─▶ page
 *
 * The index holds only keys + service, method and a key hash, written once at accept, so the
 * service/method/key filters run in the index queries; status changes on every transition and
 * is read from the items. The cursor is the sort key of the last candidate looked at: the next
 * page reads strictly older entries in every shard, so invocations created meanwhile (newer) never
 * shift it — no duplicates, no misses among those that existed before the first page.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { BATCH_GET_MAX, batchGetItems } from './batch-get.js';
import { InvalidArgumentError } from '../errors.js';
import { Expr } from './expression.js';
import { ATTR, InvocationStatus, keyHash, LIST_INDEX_SHARDS, listIndexPk, type FailureInfo, type InstanceKind } from './invocation-item.js';
import { isExpired, keys, TABLE_SCHEMA, type TableClients } from './table.js';

export const MAX_LIST_LIMIT = 200;
export const DEFAULT_LIST_LIMIT = 50;

export interface ListFilter {
  status?: InvocationStatus[];
  service?: string;
  method?: string;
  key?: string;
}

/** What a listing shows of an invocation (the item's small attributes only). */
export interface InvocationSummary {
  id: string;
  service: string;
  method: string;
  key: string;
  kind: InstanceKind;
  status: InvocationStatus;
  attempts: number;
  createdAt: number;
  modifiedAt: number;
  dueAt?: number;
  deployment: string;
  lastFailure?: FailureInfo;
  result?: { kind: 'value' } | { kind: 'failure'; code: number; message: string };
}

export interface ListPage {
  invocations: InvocationSummary[];
  /** Opaque; absent on the last page. */
  cursor?: string;
  /** What the page cost: index queries, index entries read, items read from the table. */
  reads: { queries: number; indexEntries: number; items: number };
}

const SUMMARY_ATTRS = [
  'id',
  'service',
  'method',
  'key',
  'kind',
  'status',
  'attempts',
  'createdAt',
  'modifiedAt',
  'dueAt',
  'endpointId',
  'pinnedTo',
  'lastFailure',
  'result',
  'expiresAt',
];

export function encodeCursor(sk: string): string {
  return Buffer.from(JSON.stringify({ v: 1, before: sk })).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown; before?: unknown };
    if (parsed.v === 1 && typeof parsed.before === 'string' && /^\d{15}#/.test(parsed.before)) return parsed.before;
  } catch {
    // falls through to the refusal
  }
  throw new InvalidArgumentError(`Invalid cursor '${cursor.slice(0, 40)}': pass the cursor of the previous page unchanged`);
}

interface IndexRow {
  pk: string;
  sk: string;
}

/** One shard read backwards in chunks, from just below the cursor. */
class ShardReader {
  private buffer: IndexRow[] = [];
  private startKey: Record<string, unknown> | undefined;
  private exhausted = false;

  constructor(
    private readonly list: InvocationLister,
    private readonly reads: ReadCount,
    private readonly shard: number,
    private readonly before: string | undefined,
    private readonly filter: ListFilter,
    private readonly chunk: number,
  ) {}

  /** The newest row not taken yet; undefined when the shard has no more. */
  async peek(): Promise<IndexRow | undefined> {
    // A filtered query may return an empty chunk with more to come: read on.
    while (this.buffer.length === 0 && !this.exhausted) {
      const res = await this.list.queryShard(this.reads, this.shard, this.before, this.filter, this.chunk, this.startKey);
      this.buffer = res.rows;
      this.startKey = res.next;
      this.exhausted = res.next === undefined;
    }
    return this.buffer[0];
  }

  take(): void {
    this.buffer.shift();
  }
}

type ReadCount = ListPage['reads'];

export class InvocationLister {
  constructor(
    private readonly tables: TableClients,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * One page. It looks at candidates (index entries matching service/method/key) until `limit`
   * of them also match the status, or `limit × 10` were looked at (a rare status among many
   * others): then the page is short and still carries a cursor.
   */
  async list(filter: ListFilter, limit = DEFAULT_LIST_LIMIT, cursor?: string): Promise<ListPage> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw new InvalidArgumentError(`Invalid limit ${limit}: use 1 to ${MAX_LIST_LIMIT}`);
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    // Per shard, about twice its share of a page: one chunk is usually one 4 KB read unit.
    const chunk = Math.min(limit, Math.max(8, Math.ceil((2 * limit) / LIST_INDEX_SHARDS)));
    const reads: ReadCount = { queries: 0, indexEntries: 0, items: 0 };
    const shards = Array.from({ length: LIST_INDEX_SHARDS }, (_, i) => new ShardReader(this, reads, i, before, filter, chunk));
    const budget = limit * 10;
    // Without a status filter every candidate is listed: read exactly what the page needs. With
    // one, read whole batches (fewer requests); the cursor stops at the last candidate used.
    const batchSize = (remaining: number) => Math.min(BATCH_GET_MAX, filter.status ? limit : remaining);
    const out: InvocationSummary[] = [];
    let examined = 0;
    let last: string | undefined;
    let exhausted = false;
    let leftover = false;
    while (out.length < limit && examined < budget && !exhausted) {
      const batch: IndexRow[] = [];
      while (batch.length < batchSize(limit - out.length)) {
        const next = await this.newest(shards);
        if (next === undefined) {
          exhausted = true;
          break;
        }
        batch.push(next);
      }
      if (batch.length === 0) break;
      const items = await this.getItems(
        reads,
        batch.map((r) => r.pk),
      );
      for (const row of batch) {
        if (out.length === limit) {
          // Older than the cursor: the next page reads them again.
          leftover = true;
          break;
        }
        examined++;
        last = row.sk;
        const item = items.get(row.pk);
        // Gone (TTL) or expired since the index entry was read: not listed.
        if (item === undefined || isExpired(item, this.now())) continue;
        if (!matches(item, filter)) continue;
        out.push(summaryOf(item));
      }
    }
    let more = leftover || !exhausted;
    if (more && !leftover && (await this.newest(shards, false)) === undefined) more = false;
    return { invocations: out, ...(more && last !== undefined ? { cursor: encodeCursor(last) } : {}), reads };
  }

  /** Takes (or, with take = false, only peeks at) the newest row over all shards. */
  private async newest(shards: ShardReader[], take = true): Promise<IndexRow | undefined> {
    const heads = await Promise.all(shards.map((s) => s.peek()));
    let best = -1;
    heads.forEach((h, i) => {
      if (h !== undefined && (best < 0 || h.sk > heads[best]!.sk)) best = i;
    });
    if (best < 0) return undefined;
    if (take) shards[best]!.take();
    return heads[best];
  }

  /** @internal One chunk of one shard, newest first, strictly older than `before`. */
  async queryShard(reads: ReadCount, shard: number, before: string | undefined, filter: ListFilter, limit: number, startKey?: Record<string, unknown>) {
    const { listIndex } = TABLE_SCHEMA;
    const e = new Expr();
    let keyCondition = `${e.n(listIndex.partitionKey)} = ${e.v(listIndexPk(shard))}`;
    if (before !== undefined) keyCondition += ` AND ${e.n(listIndex.sortKey)} < ${e.v(before)}`;
    const filters: string[] = [];
    if (filter.service !== undefined) filters.push(`${e.n('service')} = ${e.v(filter.service)}`);
    if (filter.method !== undefined) filters.push(`${e.n('method')} = ${e.v(filter.method)}`);
    if (filter.key !== undefined) filters.push(`${e.n(ATTR.keyHash)} = ${e.v(keyHash(filter.key))}`);
    const res = await this.tables.doc.send(
      new QueryCommand({
        TableName: this.tables.tableName,
        IndexName: listIndex.name,
        KeyConditionExpression: keyCondition,
        ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
        ...e.placeholders(),
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    reads.queries += 1;
    reads.indexEntries += res.ScannedCount ?? 0;
    const rows = (res.Items ?? []).map((i) => ({ pk: i.pk as string, sk: i[listIndex.sortKey] as string }));
    return { rows, next: res.LastEvaluatedKey as Record<string, unknown> | undefined };
  }

  /** The items of a page (eventually consistent: a listing is a view, not a decision). */
  private async getItems(reads: ReadCount, pks: string[]): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    const names: Record<string, string> = {};
    SUMMARY_ATTRS.forEach((a, i) => (names[`#a${i}`] = a));
    names['#pk'] = 'pk';
    const items = await batchGetItems(
      this.tables,
      pks.map((pk) => ({ pk, sk: keys.invocation('x').sk })),
      { projection: ['#pk', ...SUMMARY_ATTRS.map((_, i) => `#a${i}`)].join(', '), names },
    );
    for (const item of items) out.set(item.pk as string, item);
    reads.items += items.length;
    return out;
  }
}

function matches(item: Record<string, unknown>, filter: ListFilter): boolean {
  if (filter.status !== undefined && !filter.status.includes(item.status as InvocationStatus)) return false;
  // The index compared a hash: the key itself decides.
  if (filter.key !== undefined && item.key !== filter.key) return false;
  return true;
}

function summaryOf(item: Record<string, unknown>): InvocationSummary {
  const result = item.result as { k: string; c?: number; m?: string } | undefined;
  return {
    id: item.id as string,
    service: item.service as string,
    method: item.method as string,
    key: item.key as string,
    kind: item.kind as InstanceKind,
    status: item.status as InvocationStatus,
    attempts: (item.attempts as number | undefined) ?? 0,
    createdAt: item.createdAt as number,
    modifiedAt: item.modifiedAt as number,
    ...(item.status !== InvocationStatus.Completed && typeof item.dueAt === 'number' ? { dueAt: item.dueAt } : {}),
    deployment: (item.pinnedTo as string | undefined) ?? (item.endpointId as string),
    ...(item.lastFailure ? { lastFailure: item.lastFailure as FailureInfo } : {}),
    ...(result ? { result: result.k === 'f' ? { kind: 'failure' as const, code: result.c ?? 2, message: result.m ?? '' } : { kind: 'value' as const } } : {}),
  };
}
