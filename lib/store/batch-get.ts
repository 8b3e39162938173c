/**
 * BatchGetItem of up to 100 keys, with the unprocessed keys asked again (backing off) until every
 * item is answered. Items come back raw from the document client, in no particular order.
 */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { TableClients } from './table.js';

/** BatchGetItem takes at most 100 keys. */
export const BATCH_GET_MAX = 100;

export async function batchGetItems(
  tables: TableClients,
  keys: Record<string, unknown>[],
  read: { projection: string; names: Record<string, string>; consistent?: boolean },
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let pending = keys;
  for (let round = 0; pending.length > 0; round++) {
    if (round > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** round)));
    const res = await tables.doc.send(
      new BatchGetCommand({
        RequestItems: {
          [tables.tableName]: {
            Keys: pending,
            ...(read.consistent ? { ConsistentRead: true } : {}),
            ProjectionExpression: read.projection,
            ExpressionAttributeNames: read.names,
          },
        },
      }),
    );
    out.push(...(res.Responses?.[tables.tableName] ?? []));
    pending = (res.UnprocessedKeys?.[tables.tableName]?.Keys ?? []) as typeof pending;
  }
  return out;
}
