/**
 * Everything the chaos harness does with the table, in one place: create and drop a seed's table,
 * scan for invocation items and read each through the store. When the store's layout changes,
 * this is the file to adapt; the checks only see `InvocationView`.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { MessageType } from '../../lib/protocol/framing.js';
import { decodeSideEffect } from '../../lib/protocol/messages.js';
import { InvocationStore } from '../../lib/store/invocation-store.js';
import { createTableClients, ensureTable, type TableClients } from '../../lib/store/table.js';

export interface InvocationView {
  id: string;
  status: string;
  service: string;
  method: string;
  key: string;
  result?: { kind: 'value'; value: Uint8Array } | { kind: 'failure'; code: number; message: string };
  /** Journal entries as stored (the current store drops them once the invocation completed). */
  journal: { type: number; body: Uint8Array }[];
  caller?: { invocationId: string; entryIndex: number };
  /** For diagnosis only: attempts so far and the last failure, when the store keeps them. */
  attempts?: number;
  lastFailure?: string;
}

export const TERMINAL_STATUS = 'completed';

export function isTerminal(view: InvocationView): boolean {
  return view.status === TERMINAL_STATUS;
}

export function tablesFor(endpoint: string, tableName: string): TableClients {
  return createTableClients(tableName, { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

/** A seed's table, shaped as the runtime declares it (the runners would create it too, all at once). */
export async function createTable(tables: TableClients): Promise<void> {
  await ensureTable(tables.client, tables.tableName);
}

/** Drops a seed's table (DynamoDB Local keeps tables in memory) and closes the clients. */
export async function dropTable(tables: TableClients): Promise<void> {
  await tables.client.send(new DeleteTableCommand({ TableName: tables.tableName })).catch(() => undefined);
  tables.client.destroy();
}

const PREFIX = 'inv#';

/** Every invocation in the table, read through the store (consistent reads, expiry honoured). */
export async function scanInvocations(tables: TableClients): Promise<InvocationView[]> {
  const ids = new Set<string>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await tables.doc.send(
      new ScanCommand({
        TableName: tables.tableName,
        FilterExpression: 'begins_with(#pk, :p)',
        ProjectionExpression: '#pk',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':p': PREFIX },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) ids.add((item.pk as string).slice(PREFIX.length));
    start = page.LastEvaluatedKey;
  } while (start);
  const store = new InvocationStore(tables);
  const views: InvocationView[] = [];
  const queue = [...ids];
  // A few reads at a time: DynamoDB Local shares two cores with everything else.
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
        const rec = await store.get(id);
        if (!rec) continue;
        views.push({
          id: rec.id,
          status: rec.status,
          service: rec.service,
          method: rec.method,
          key: rec.key,
          result: rec.result,
          journal: rec.journal.map((e) => ({ type: e.type, body: e.body })),
          caller: rec.caller,
          attempts: rec.attempts,
          lastFailure: rec.lastFailure?.message,
        });
      }
    }),
  );
  return views.sort((a, b) => a.id.localeCompare(b.id));
}

/** The values of the side effects journaled by an invocation, in order (JSON as the SDK wrote it). */
export function journaledSideEffects(view: InvocationView): unknown[] {
  const out: unknown[] = [];
  for (const entry of view.journal) {
    if (entry.type !== MessageType.SideEffect) continue;
    const result = decodeSideEffect(entry.body).result;
    out.push(result.case === 'value' ? JSON.parse(Buffer.from(result.value).toString('utf8')) : { failure: result.value?.failure?.message });
  }
  return out;
}
