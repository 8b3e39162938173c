import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { isExpired, keys } from '../../lib/store/table.js';
import { freshTable } from '../support/ddb.js';

describe('table', () => {
  it('creates a table on DynamoDB Local that stores and reads items', async () => {
    const { doc, tableName } = await freshTable();
    await doc.send(new PutCommand({ TableName: tableName, Item: { ...keys.service('a.B'), x: 1 } }));
    const got = await doc.send(new GetCommand({ TableName: tableName, Key: keys.service('a.B') }));
    expect(got.Item).toEqual({ pk: 'svc#a.B', sk: 'meta', x: 1 });
  });

  it('treats an item whose expiresAt has passed as expired', () => {
    expect(isExpired({ expiresAt: 100 }, 100_000)).toBe(true);
    expect(isExpired({ expiresAt: 101 }, 100_000)).toBe(false);
    expect(isExpired({}, 100_000)).toBe(false);
  });
});
