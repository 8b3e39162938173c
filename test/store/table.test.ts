import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { isExpired, keys, TABLE_SCHEMA } from '../../lib/store/table.js';
import { freshTable } from '../support/ddb.js';

describe('table', () => {
  it('creates a table on DynamoDB Local that stores and reads items', async () => {
    const { doc, tableName } = await freshTable();
    await doc.send(new PutCommand({ TableName: tableName, Item: { ...keys.service('a.B'), x: 1 } }));
    const got = await doc.send(new GetCommand({ TableName: tableName, Key: keys.service('a.B') }));
    expect(got.Item).toEqual({ pk: 'svc#a.B', sk: 'meta', x: 1 });
  });

  it('creates the three indexes as the CDK construct declares them (list: INCLUDE service, method, lk)', async () => {
    const { client, tableName } = await freshTable();
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const byName = Object.fromEntries((Table?.GlobalSecondaryIndexes ?? []).map((g) => [g.IndexName, g]));

    expect(Object.keys(byName).sort()).toEqual(['due', 'list', 'pinned']);
    expect(byName.list?.KeySchema).toEqual([
      { AttributeName: TABLE_SCHEMA.listIndex.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_SCHEMA.listIndex.sortKey, KeyType: 'RANGE' },
    ]);
    expect(byName.list?.Projection).toEqual({ ProjectionType: 'INCLUDE', NonKeyAttributes: ['service', 'method', 'lk'] });
  });

  it('treats an item whose expiresAt has passed as expired', () => {
    expect(isExpired({ expiresAt: 100 }, 100_000)).toBe(true);
    expect(isExpired({ expiresAt: 101 }, 100_000)).toBe(false);
    expect(isExpired({}, 100_000)).toBe(false);
  });
});
