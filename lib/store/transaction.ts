/**
 * A transaction being put together: one operation per item (DynamoDB refuses two on the same
 * item), each tagged with its role so a cancellation reason can be traced back to what it meant.
 */
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Expr } from './expression.js';

export interface ItemKey {
  pk: string;
  sk: string;
}

export type TxOp =
  | { role: string; key: ItemKey; kind: 'update'; expr: Expr }
  | { role: string; key: ItemKey; kind: 'put'; item: Record<string, unknown>; expr: Expr }
  | { role: string; key: ItemKey; kind: 'check'; expr: Expr };

export function itemId(key: ItemKey): string {
  return `${key.pk}\u0000${key.sk}`;
}

/** True when two operations would touch the same item. */
export function collides(ops: readonly TxOp[]): boolean {
  const seen = new Set<string>();
  for (const op of ops) {
    const id = itemId(op.key);
    if (seen.has(id)) return true;
    seen.add(id);
  }
  return false;
}

export function transactInput(tableName: string, ops: readonly TxOp[]): TransactWriteCommandInput {
  return {
    TransactItems: ops.map((op) => {
      switch (op.kind) {
        case 'update':
          return { Update: { TableName: tableName, Key: op.key, ...op.expr.update(), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } };
        case 'put': {
          const cond = op.expr.condition();
          return { Put: { TableName: tableName, Item: op.item, ...cond, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } };
        }
        case 'check':
          return { ConditionCheck: { TableName: tableName, Key: op.key, ...op.expr.condition(), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } };
      }
    }),
  };
}
