/**
 * Per-request DynamoDB trace for the benchmark: which operation, which items (by key prefix), whether
 * the read was strongly consistent, the capacity DynamoDB reported, and the line of our code that
 * asked for it (from V8's async stack trace). lib/store/metrics.ts gives the totals; this explains them.
 */
import type { DocumentClient } from '../lib/store/dynamo/document-client.js';
import { relative } from 'node:path';

/** Item kinds by partition-key prefix (lib/store/table.ts `keys`). */
const KINDS: Record<string, string> = {
  inv: 'invocation',
  obj: 'instance',
  idem: 'idempotency',
  tmr: 'timer',
  svc: 'service',
  ep: 'endpoint',
  catalogue: 'catalogue',
};

/** Registry items: the resolver caches them (lib/registry/resolver.ts, 5 s). */
export const REGISTRY_KINDS = new Set(['service', 'endpoint', 'catalogue']);

export interface TracedRequest {
  op: string;
  /** Item kinds touched, in request order (a transaction lists each of its items). */
  items: string[];
  consistent: boolean;
  readUnits: number;
  /** Write units on the table and on its indexes, as DynamoDB reported them. */
  writeUnits: number;
  indexWriteUnits: number;
  /** HTTP attempts (the SDK retries throttling and transaction conflicts). */
  attempts: number;
  /** Wall time of the request, retries included. */
  ms: number;
  /** Error name when the request failed (e.g. ConditionalCheckFailedException). */
  error?: string;
  /** `lib/store/x.ts:12 method` ← `lib/driver/y.ts:34 caller` */
  site: string;
}

export interface DynamoTrace {
  requests: TracedRequest[];
  /** Time of the last request seen (ms), for waiting until background work is done. */
  lastAt: number;
  reset(): void;
}

type Key = Record<string, unknown> | undefined;

function kindOf(key: Key): string {
  const pk = key?.pk;
  const raw = typeof pk === 'string' ? pk : typeof (pk as { S?: unknown } | undefined)?.S === 'string' ? (pk as { S: string }).S : undefined;
  if (raw === undefined) return '?';
  const prefix = raw.split('#')[0]!;
  return KINDS[prefix] ?? prefix;
}

function itemsOf(op: string, input: Record<string, unknown>): string[] {
  if (op === 'TransactWriteItemsCommand' || op === 'TransactGetItemsCommand') {
    const list = (input.TransactItems as Record<string, { Key?: Key; Item?: Key }>[] | undefined) ?? [];
    return list.map((t) => {
      const action = Object.values(t)[0];
      return kindOf(action?.Key ?? action?.Item);
    });
  }
  if (op === 'BatchGetItemCommand') {
    const req = (input.RequestItems as Record<string, { Keys?: Key[] }> | undefined) ?? {};
    return Object.values(req).flatMap((r) => (r.Keys ?? []).map(kindOf));
  }
  if (op === 'BatchWriteItemCommand') {
    const req = (input.RequestItems as Record<string, { PutRequest?: { Item: Key }; DeleteRequest?: { Key: Key } }[]> | undefined) ?? {};
    return Object.values(req).flatMap((r) => r.map((w) => kindOf(w.PutRequest?.Item ?? w.DeleteRequest?.Key)));
  }
  if (op === 'QueryCommand' || op === 'ScanCommand') {
    const values = (input.ExpressionAttributeValues as Record<string, unknown> | undefined) ?? {};
    const first = Object.values(values)[0];
    return [typeof first === 'string' || (first as { S?: string } | undefined)?.S ? kindOf({ pk: first }) : op === 'ScanCommand' ? 'scan' : 'query'];
  }
  return [kindOf((input.Key ?? input.Item) as Key)];
}

interface Frame {
  fn: string;
  file: string;
  line: number;
}

const FRAME = /^\s*at (?:async )?(?:(.+?) \()?(?:file:\/\/)?(\/[^()]+?):(\d+):\d+\)?$/;

function framesOf(stack: string, root: string): Frame[] {
  const out: Frame[] = [];
  for (const line of stack.split('\n').slice(1)) {
    const m = FRAME.exec(line);
    if (!m || m[2]!.includes('/node_modules/')) continue;
    out.push({ fn: m[1] ?? '<anonymous>', file: relative(root, m[2]!), line: Number(m[3]) });
  }
  return out;
}

/** The store method and the first caller outside the storage layer. */
function siteOf(stack: string, root: string): string {
  // The document client and its interceptors (metrics, this trace) are plumbing, not the asker.
  const frames = framesOf(stack, root).filter(
    (f) => !f.file.startsWith('bench/') && !f.file.endsWith('store/metrics.ts') && !f.file.startsWith('lib/store/dynamo/'),
  );
  const isStore = (f: Frame) => f.file.startsWith('lib/store/') || f.file === 'lib/registry/registry-store.ts';
  const store = frames.find(isStore);
  const caller = frames.find((f) => !isStore(f));
  const fmt = (f: Frame | undefined) => (f ? `${f.file}:${f.line} ${f.fn.replace(/^(async )/, '')}` : '?');
  return store && caller ? `${fmt(store)} ← ${fmt(caller)}` : fmt(store ?? caller);
}

interface Capacity {
  CapacityUnits?: number;
  Table?: { CapacityUnits?: number };
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

function unitsOf(caps: Capacity[]): { total: number; index: number } {
  let total = 0;
  let index = 0;
  for (const c of caps) {
    total += c.CapacityUnits ?? 0;
    for (const g of Object.values(c.GlobalSecondaryIndexes ?? {})) index += g.CapacityUnits ?? 0;
  }
  return { total, index };
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);

/**
 * Adds the trace middleware. Add it after `instrumentDynamo` (which asks DynamoDB to report the
 * consumed capacity); `root` is the repository root, for short file names.
 */
export function traceDynamo(doc: DocumentClient, root: string): DynamoTrace {
  const trace: DynamoTrace = {
    requests: [],
    lastAt: 0,
    reset() {
      this.requests = [];
    },
  };
  doc.use(async (call, next) => {
    const op = call.operation;
    const input = call.input;
    const site = siteOf(new Error().stack ?? '', root);
    const started = performance.now();
    trace.lastAt = Date.now();
    const record = (out: { ConsumedCapacity?: Capacity | Capacity[]; $metadata?: { attempts?: number } } | undefined, error?: string) => {
      trace.lastAt = Date.now();
      const caps = out?.ConsumedCapacity === undefined ? [] : Array.isArray(out.ConsumedCapacity) ? out.ConsumedCapacity : [out.ConsumedCapacity];
      const units = unitsOf(caps);
      const write = WRITES.has(op);
      trace.requests.push({
        op: op.replace(/Command$/, ''),
        items: itemsOf(op, input),
        consistent: input.ConsistentRead === true,
        readUnits: write ? 0 : units.total,
        writeUnits: write ? units.total : 0,
        indexWriteUnits: write ? units.index : 0,
        attempts: out?.$metadata?.attempts ?? 1,
        ms: performance.now() - started,
        error,
        site,
      });
    };
    try {
      const result = await next();
      record(result as Parameters<typeof record>[0]);
      return result;
    } catch (err) {
      // A refused conditional write consumes capacity too, but the SDK error does not carry it.
      record(err as Parameters<typeof record>[0], (err as Error).name);
      throw err;
    }
  });
  return trace;
}
