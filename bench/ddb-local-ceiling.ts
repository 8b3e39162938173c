/**
 * How many plain calls DynamoDB Local itself allows on this machine, with no ingress, driver or
 * endpoint in the way: the two writes of a plain call (the accept PutItem that also takes the
 * invocation, the completing UpdateItem) sent by InvocationStore, back to back, at several
 * concurrencies, and an idempotent first call's read before them. Also the accept write alone, and the same writes grouped eight to a
 * TransactWriteItems, to see whether grouping concurrent writes would pay. JVM CPU comes from /proc.
 *
 *   npx tsx bench/ddb-local-ceiling.ts [--disk] [--seconds 6] [--warmup 15]
 *
 * The figure to read is "pairs/s": a ceiling for calls/s of the whole local stack, which also
 * runs the runtime, the endpoint and the load client on the same cores.
 */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { MessageType } from '../lib/protocol/framing.js';
import { InvocationStatus, newInvocationItem, type NewInvocation } from '../lib/store/invocation-item.js';
import { InvocationStore } from '../lib/store/invocation-store.js';
import { createOp, NO_PROGRESS } from '../lib/store/operations.js';
import { createTableClients, ensureTable } from '../lib/store/table.js';
import { transactInput } from '../lib/store/transaction.js';
import { fixed, table } from './format.js';
import { processCpuMs } from './process-cpu.js';

const { values: args } = parseArgs({
  options: { disk: { type: 'boolean', default: false }, seconds: { type: 'string', default: '6' }, warmup: { type: 'string', default: '15' } },
});
const SECONDS = Number(args.seconds);

const dataDir = args.disk ? mkdtempSync(join(tmpdir(), 'restless-ddb-ceiling-')) : undefined;
const ddb = await startDynamoDbLocal({ dataDir });
const tableName = 'ceiling';
const tables = createTableClients(tableName, { endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
await ensureTable(tables.client, tableName);
const store = new InvocationStore(tables);

let serial = 0;
function invocation(): NewInvocation {
  const id = `inv_ceiling${(serial++).toString(36).padStart(8, '0')}`;
  return { id, service: 'greeter', method: 'greet', key: id, kind: 'unkeyed', input: new Uint8Array(16).fill(7), endpointId: 'ep-ceiling', retentionSec: 1800 };
}
const output = { type: MessageType.OutputStream, flags: 0, body: new Uint8Array(24).fill(9) };

/** A plain call's two writes: accept (taken) and complete. */
async function pair(): Promise<number> {
  const rec = await store.accept(invocation(), { kind: 'take', leaseMs: 60_000 });
  const done = await store.complete(rec, { ...NO_PROGRESS, append: [output] }, { kind: 'value', value: new Uint8Array(16).fill(5) });
  if (done.kind !== 'committed') throw new Error(`the completing write was refused: ${done.kind}`);
  return 1;
}

/** An idempotent first call's three: the read that tells a duplicate apart (Dispatcher.accept), then the two writes. */
async function idempotentFirst(): Promise<number> {
  const inv = invocation();
  if (await store.get(inv.id)) throw new Error(`${inv.id} exists already`);
  const rec = await store.accept(inv, { kind: 'take', leaseMs: 60_000 });
  const done = await store.complete(rec, { ...NO_PROGRESS, append: [output] }, { kind: 'value', value: new Uint8Array(16).fill(5) });
  if (done.kind !== 'committed') throw new Error(`the completing write was refused: ${done.kind}`);
  return 1;
}

async function acceptOnly(): Promise<number> {
  await store.accept(invocation(), { kind: 'take', leaseMs: 60_000 });
  return 1;
}

/** Eight accept writes in one TransactWriteItems, each with its own condition, as a grouping writer would send them. */
async function grouped(): Promise<number> {
  const now = Date.now();
  const ops = Array.from({ length: 8 }, () => {
    const item = newInvocationItem(invocation(), now, {
      status: InvocationStatus.Invoked,
      epoch: 1,
      leaseUntil: now + 60_000,
      dueAt: now + 60_000,
      attempts: 1,
      token: `t${serial}`,
    });
    return createOp('self', item, now);
  });
  await tables.doc.send(new TransactWriteCommand(transactInput(tableName, ops)));
  return ops.length;
}

interface Row {
  what: string;
  concurrency: number;
  perSecond: number;
  jvmMs: number;
  nodeMs: number;
}

async function measure(what: string, concurrency: number, unit: () => Promise<number>, seconds: number): Promise<Row> {
  let done = 0;
  const jvm0 = processCpuMs(ddb.pid);
  const node0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        // Read `done` only after the await: `done += await unit()` would add to a stale value.
        const n = await unit();
        done += n;
      }
    }),
  );
  const elapsed = performance.now() - t0;
  const node = process.cpuUsage(node0);
  return {
    what,
    concurrency,
    perSecond: (done / elapsed) * 1000,
    jvmMs: (processCpuMs(ddb.pid) - jvm0) / done,
    nodeMs: (node.user + node.system) / 1000 / done,
  };
}

try {
  console.log(
    `${new Date().toISOString()}  ${cpus().length} × ${cpus()[0]?.model.trim()}  load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}  DynamoDB Local ${args.disk ? 'on disk' : 'in memory'}`,
  );
  // DynamoDB Local's JIT needs thousands of requests before its CPU per request settles.
  await measure('warm-up', 4, pair, Number(args.warmup));
  const rows: Row[] = [];
  for (const c of [1, 4, 16]) rows.push(await measure('accept + complete (a plain call)', c, pair, SECONDS));
  for (const c of [4, 16]) rows.push(await measure('read + accept + complete (idempotent call)', c, idempotentFirst, SECONDS));
  for (const c of [1, 16]) rows.push(await measure('accept alone', c, acceptOnly, SECONDS));
  for (const c of [1, 2]) rows.push(await measure('accepts, 8 per TransactWriteItems', c, grouped, SECONDS));
  console.log(
    table(
      ['writes', 'concurrency', 'per second', 'JVM CPU ms each', 'this process CPU ms each'],
      rows.map((r) => [r.what, String(r.concurrency), r.perSecond.toFixed(0), fixed(r.jvmMs), fixed(r.nodeMs)]),
    ),
  );
  const best = (prefix: string) => Math.max(...rows.filter((r) => r.what.startsWith(prefix)).map((r) => r.perSecond)).toFixed(0);
  console.log(`\n  ceiling for plain calls: ${best('accept +')} calls/s; for idempotent first calls: ${best('read +')} calls/s (best concurrency)`);
  console.log('  "per second" and "each" count calls in the first five rows, writes in the others (items, in the grouped rows).');
} finally {
  await ddb.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
