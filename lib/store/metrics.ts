/**
 * Counts DynamoDB requests by operation and the capacity they consumed (the benchmark asks every
 * request to report it with ReturnConsumedCapacity = INDEXES, which DynamoDB Local honours).
 */
import type { DocumentClient } from './dynamo/document-client.js';

export interface DynamoMetrics {
  requests: Record<string, number>;
  readCapacity: number;
  writeCapacity: number;
  reset(): void;
  snapshot(): { requests: Record<string, number>; readCapacity: number; writeCapacity: number };
}

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
  Table?: Capacity;
  GlobalSecondaryIndexes?: Record<string, Capacity>;
}

const WRITE_OPS = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);

export function instrumentDynamo(doc: DocumentClient): DynamoMetrics {
  const metrics: DynamoMetrics = {
    requests: {},
    readCapacity: 0,
    writeCapacity: 0,
    reset() {
      this.requests = {};
      this.readCapacity = 0;
      this.writeCapacity = 0;
    },
    snapshot() {
      return { requests: { ...this.requests }, readCapacity: this.readCapacity, writeCapacity: this.writeCapacity };
    },
  };
  // Item requests only: table management goes through the SDK client and is not counted.
  doc.use(async (call, next) => {
    const op = call.operation;
    call.input.ReturnConsumedCapacity = 'INDEXES';
    metrics.requests[op] = (metrics.requests[op] ?? 0) + 1;
    const out = await next();
    const consumed = out.ConsumedCapacity as Capacity | Capacity[] | undefined;
    const list = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
    for (const c of list) {
      const units = c.CapacityUnits ?? 0;
      if (WRITE_OPS.has(op)) metrics.writeCapacity += units;
      else metrics.readCapacity += units;
    }
    return out;
  });
  return metrics;
}
