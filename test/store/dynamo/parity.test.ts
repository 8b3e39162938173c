/**
 * The lean client against the AWS SDK's DocumentClient on DynamoDB Local: the same operations on
 * two identical tables must give the same outputs (values, types, binary, numbers, sets) and the
 * same errors (class, name, status, message, the stored item of a failed condition).
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DocumentClient } from '../../../lib/store/dynamo/document-client.js';
import { createTableClients, ensureTable, TABLE_SCHEMA } from '../../../lib/store/table.js';
import { localDynamoConfig } from '../../support/ddb.js';

interface Side {
  doc: DocumentClient;
  table: string;
}

let lean: Side;
let sdk: Side;

beforeAll(async () => {
  const make = async (kind: 'lean' | 'sdk') => {
    const tables = createTableClients(`parity-${kind}-${randomUUID().slice(0, 8)}`, localDynamoConfig(), kind);
    await ensureTable(tables.client, tables.tableName);
    expect(tables.doc.kind).toBe(kind);
    return { doc: tables.doc, table: tables.tableName };
  };
  [lean, sdk] = await Promise.all([make('lean'), make('sdk')]);
});

/** A comparable form: types made explicit (Uint8Array vs Buffer, bigint, Set), table names and $metadata left out. */
function canonical(v: unknown, table: string): unknown {
  if (v instanceof Uint8Array) return { bytes: Array.from(v), type: v.constructor.name };
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (v instanceof Set) return { set: [...v].map((x) => canonical(x, table)) };
  if (typeof v === 'string') return v.split(table).join('<table>');
  if (Array.isArray(v)) return v.map((x) => canonical(x, table));
  if (v instanceof Error) {
    const e = v as Error & { $metadata?: { httpStatusCode?: number }; $fault?: string; Item?: unknown; CancellationReasons?: unknown };
    return {
      error: v.constructor.name,
      name: e.name,
      message: e.message,
      status: e.$metadata?.httpStatusCode,
      fault: e.$fault,
      Item: canonical(e.Item, table),
      CancellationReasons: canonical(e.CancellationReasons, table),
    };
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      if (k === '$metadata' || (v as Record<string, unknown>)[k] === undefined) continue;
      out[k.split(table).join('<table>')] = canonical((v as Record<string, unknown>)[k], table);
    }
    return out;
  }
  return v;
}

type Step = () => Promise<unknown>;

/** Runs the same steps, one after the other, on both sides; each step's output or error must match. Returns the lean side's results. */
async function same(steps: (doc: DocumentClient, table: string) => Step[] | Promise<Step[]>): Promise<unknown[]> {
  const run = async (side: Side) => {
    const results: unknown[] = [];
    for (const step of await steps(side.doc, side.table))
      results.push(
        await step().then(
          (x) => x,
          (err: unknown) => err,
        ),
      );
    return results;
  };
  // One side after the other: steps may depend on the state earlier ones left.
  const l = await run(lean);
  const s = await run(sdk);
  expect(l.map((x) => canonical(x, lean.table))).toEqual(s.map((x) => canonical(x, sdk.table)));
  return l;
}

const key = (pk: string, sk = 'meta') => ({ pk, sk });

const RICH = {
  s: 'text with ünïcode ✓',
  empty: '',
  int: 42,
  negative: -7,
  float: 3.25,
  tiny: 1e-10,
  big: 2n ** 70n,
  safe: Number.MAX_SAFE_INTEGER,
  yes: true,
  no: false,
  nothing: null,
  gone: undefined,
  nested: { a: [1, 'two', { three: [3, null, false] }], m: { deep: { deeper: 'x', drop: undefined } }, emptyMap: {}, emptyList: [] },
  bin: new Uint8Array([0, 1, 2, 253, 254, 255]),
  buf: Buffer.from('a buffer'),
  emptyBin: new Uint8Array(0),
  list: [new Uint8Array([7]), 'x', 1.5],
  strings: new Set(['a', 'b']),
  numbers: new Set([1, 2.5]),
  binaries: new Set([new Uint8Array([1]), new Uint8Array([2, 3])]),
};

describe('lean client ↔ DocumentClient parity (DynamoDB Local)', () => {
  it('put and get: strings, numbers (int, float, big), booleans, null, nested, binary, empty string, sets, undefined removed', async () => {
    const [, got, missing, projected] = await same((doc, table) => [
      () => doc.send(new PutCommand({ TableName: table, Item: { ...key('rich'), ...RICH } })),
      () => doc.send(new GetCommand({ TableName: table, Key: key('rich'), ConsistentRead: true })),
      () => doc.send(new GetCommand({ TableName: table, Key: key('absent') })),
      () => doc.send(new GetCommand({ TableName: table, Key: key('rich'), ProjectionExpression: '#b, nested.a', ExpressionAttributeNames: { '#b': 'bin' } })),
    ]);
    const item = (got as { Item: Record<string, unknown> }).Item;
    expect(item.bin).toBeInstanceOf(Uint8Array);
    expect(item.big).toBe(2n ** 70n);
    expect('gone' in item).toBe(false);
    expect((missing as { Item?: unknown }).Item).toBeUndefined();
    expect((projected as { Item: Record<string, unknown> }).Item).toEqual({ bin: RICH.bin, nested: { a: RICH.nested.a } });
  });

  it('refuses what the DocumentClient refuses before sending (an unsafe number, a class instance)', async () => {
    const [unsafe, instance] = await same((doc, table) => [
      () => doc.send(new PutCommand({ TableName: table, Item: { ...key('bad'), n: 2 ** 60 } })),
      () => doc.send(new PutCommand({ TableName: table, Item: { ...key('bad'), d: new Date(0) } })),
    ]);
    expect(unsafe).toBeInstanceOf(Error);
    expect(instance).toBeInstanceOf(Error);
  });

  it('update with ReturnValues (ALL_NEW, UPDATED_OLD, NONE) and delete with ALL_OLD', async () => {
    await same((doc, table) => [
      () => doc.send(new PutCommand({ TableName: table, Item: { ...key('upd'), n: 1, tags: new Set(['x']), blob: new Uint8Array([1]) } })),
      () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: key('upd'),
            UpdateExpression: 'SET n = n + :one, blob = :b, m = :m ADD tags :t REMOVE missing',
            ExpressionAttributeValues: { ':one': 1, ':b': new Uint8Array([9, 9]), ':m': { a: undefined, b: [1, { c: 'd' }] }, ':t': new Set(['y']) },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: key('upd'),
            UpdateExpression: 'SET n = :n',
            ExpressionAttributeValues: { ':n': 10 },
            ReturnValues: 'UPDATED_OLD',
          }),
        ),
      () => doc.send(new UpdateCommand({ TableName: table, Key: key('upd'), UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': 11 } })),
      () => doc.send(new DeleteCommand({ TableName: table, Key: key('upd'), ReturnValues: 'ALL_OLD' })),
      () => doc.send(new DeleteCommand({ TableName: table, Key: key('upd'), ReturnValues: 'ALL_OLD' })),
    ]);
  });

  it('a failed condition: ConditionalCheckFailedException with the stored item (marshalled, as the SDK leaves it)', async () => {
    const [, refused, plain] = await same((doc, table) => [
      () => doc.send(new PutCommand({ TableName: table, Item: { ...key('cond'), v: 1, bin: new Uint8Array([5, 6]), m: { x: [true] } } })),
      () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: key('cond'),
            UpdateExpression: 'SET v = :v',
            ConditionExpression: 'v = :old',
            ExpressionAttributeValues: { ':v': 2, ':old': 0 },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      () => doc.send(new PutCommand({ TableName: table, Item: { ...key('cond'), v: 3 }, ConditionExpression: 'attribute_not_exists(pk)' })),
    ]);
    expect(refused).toBeInstanceOf(ConditionalCheckFailedException);
    expect((refused as ConditionalCheckFailedException).Item?.bin).toEqual({ B: new Uint8Array([5, 6]) });
    expect((plain as ConditionalCheckFailedException).Item).toBeUndefined();
  });

  it('query: pagination, filters, the due index, and scan', async () => {
    const { dueIndex } = TABLE_SCHEMA;
    const results = await same(async (doc, table) => {
      for (let i = 0; i < 7; i++)
        await doc.send(
          new PutCommand({ TableName: table, Item: { pk: 'q', sk: `s${i}`, i, [dueIndex.partitionKey]: 'due#1', [dueIndex.sortKey]: `t${9 - i}` } }),
        );
      const pages: Step[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk AND sk > :from',
            FilterExpression: 'i <> :skip',
            ExpressionAttributeValues: { ':pk': 'q', ':from': 's0', ':skip': 3 },
            Limit: 2,
            ExclusiveStartKey: start,
          }),
        );
        pages.push(() => Promise.resolve(page));
        start = page.LastEvaluatedKey;
      } while (start);
      pages.push(() =>
        doc.send(
          new QueryCommand({
            TableName: table,
            IndexName: dueIndex.name,
            KeyConditionExpression: '#p = :p',
            ExpressionAttributeNames: { '#p': dueIndex.partitionKey },
            ExpressionAttributeValues: { ':p': 'due#1' },
            ScanIndexForward: false,
            Limit: 3,
          }),
        ),
      );
      pages.push(() =>
        doc.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'q' }, Select: 'COUNT' })),
      );
      pages.push(() => doc.send(new ScanCommand({ TableName: table, FilterExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'q' }, Limit: 50 })));
      return pages;
    });
    expect(results.length).toBeGreaterThan(4);
  });

  it('batch get and batch write (puts, deletes, a missing key; no unprocessed left)', async () => {
    const [write, read] = await same(async (doc, table) => {
      const write = await doc.send(
        new BatchWriteCommand({
          RequestItems: {
            [table]: [
              { PutRequest: { Item: { ...key('b1'), v: 1, bin: new Uint8Array([1]) } } },
              { PutRequest: { Item: { ...key('b2'), v: 2, gone: undefined } } },
              { PutRequest: { Item: { ...key('b3'), v: 3 } } },
            ],
          },
        }),
      );
      await doc.send(new BatchWriteCommand({ RequestItems: { [table]: [{ DeleteRequest: { Key: key('b3') } }] } }));
      const read = await doc.send(
        new BatchGetCommand({
          RequestItems: { [table]: { Keys: [key('b1'), key('b2'), key('b3'), key('nope')], ProjectionExpression: 'pk, v, bin', ConsistentRead: true } },
        }),
      );
      // BatchGet answers in no particular order.
      read.Responses![table]!.sort((a, b) => String(a.pk).localeCompare(String(b.pk)));
      return [() => Promise.resolve(write), () => Promise.resolve(read)];
    });
    expect((write as { UnprocessedItems?: unknown }).UnprocessedItems).toEqual({});
    expect((read as { Responses: Record<string, unknown[]> }).Responses[lean.table]).toHaveLength(2);
  });

  it('transactions: a write, a cancellation with its reasons and the stored item, a transactional get', async () => {
    const [, cancelled, got] = await same((doc, table) => [
      () =>
        doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: table, Item: { ...key('t1'), v: 1, bin: new Uint8Array([4]) } } },
              { Update: { TableName: table, Key: key('t2'), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': 2 } } },
            ],
          }),
        ),
      () =>
        doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: table,
                  Key: key('t1'),
                  UpdateExpression: 'SET v = :v',
                  ConditionExpression: 'v = :old',
                  ExpressionAttributeValues: { ':v': 5, ':old': 0 },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              {
                ConditionCheck: {
                  TableName: table,
                  Key: key('t2'),
                  ConditionExpression: 'attribute_exists(pk)',
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              { Delete: { TableName: table, Key: key('t3') } },
            ],
          }),
        ),
      () => doc.send(new TransactGetCommand({ TransactItems: [{ Get: { TableName: table, Key: key('t1') } }, { Get: { TableName: table, Key: key('t9') } }] })),
    ]);
    expect(cancelled).toBeInstanceOf(TransactionCanceledException);
    const reasons = (cancelled as TransactionCanceledException).CancellationReasons!;
    expect(reasons.map((r) => r.Code)).toEqual(['ConditionalCheckFailed', 'None', 'None']);
    expect(reasons[0]!.Item?.bin).toEqual({ B: new Uint8Array([4]) });
    expect((got as { Responses: unknown[] }).Responses).toHaveLength(2);
  });

  it('service errors: a missing table, an invalid key, an invalid expression, an oversized item', async () => {
    const [missing, badKey, badExpr, large] = await same((doc, table) => [
      () => doc.send(new GetCommand({ TableName: `${table}-missing`, Key: key('x') })),
      () => doc.send(new GetCommand({ TableName: table, Key: { pk: 'x' } })),
      () => doc.send(new UpdateCommand({ TableName: table, Key: key('x'), UpdateExpression: 'SET = oops' })),
      () => doc.send(new PutCommand({ TableName: table, Item: { ...key('large'), blob: 'x'.repeat(410_000) } })),
    ]);
    expect((missing as Error).name).toBe('ResourceNotFoundException');
    expect((badKey as Error).name).toBe('ValidationException');
    expect((badExpr as Error).name).toBe('ValidationException');
    expect((large as Error).name).toBe('ValidationException');
  });

  it('ConsumedCapacity and ReturnItemCollectionMetrics pass through', async () => {
    await same((doc, table) => [
      () => doc.send(new PutCommand({ TableName: table, Item: { ...key('cap'), v: 1 }, ReturnConsumedCapacity: 'INDEXES' })),
      () => doc.send(new GetCommand({ TableName: table, Key: key('cap'), ReturnConsumedCapacity: 'TOTAL' })),
      () =>
        doc.send(
          new TransactWriteCommand({
            TransactItems: [{ Put: { TableName: table, Item: { ...key('cap2'), v: 1 } } }],
            ReturnConsumedCapacity: 'INDEXES',
          }),
        ),
    ]);
  });
});
