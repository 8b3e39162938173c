/** A fresh table per test file on the shared DynamoDB Local. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createTableClients, ensureTable, type TableClients } from '../../lib/store/table.js';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function localDynamoConfig(endpoint = inject('ddbEndpoint')) {
  return { endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
}

export async function freshTable(prefix = 'test'): Promise<TableClients> {
  const tables = createTableClients(`${prefix}-${randomUUID().slice(0, 8)}`, localDynamoConfig());
  await ensureTable(tables.client, tables.tableName);
  return tables;
}
