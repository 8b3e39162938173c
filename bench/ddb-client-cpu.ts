/**
 * Node CPU per DynamoDB request: the AWS SDK's DocumentClient vs the lean client, for the two
 * writes of a plain call (bench section 1 counts them), in the store's real shapes: the accept
 * PutItem of a new invocation and the completing UpdateItem. The inputs are captured from
 * InvocationStore itself, then replayed one request at a time against DynamoDB Local (in memory).
 * Only this process's CPU is counted (process.cpuUsage), not DynamoDB Local's.
 *
 *   npx tsx bench/ddb-client-cpu.ts [--warmup 2000] [--count 2000] [--rounds 2]
 *
 * The two clients take turns in blocks of 100 calls, so load from elsewhere on the machine falls
 * on both alike. */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { MessageType } from '../lib/protocol/framing.js';
import { InvocationStore } from '../lib/store/invocation-store.js';
import { NO_PROGRESS } from '../lib/store/operations.js';
import { createTableClients, ensureTable, type TableClients } from '../lib/store/table.js';
import { fixed, table } from './format.js';

const { values } = parseArgs({
  options: { warmup: { type: 'string', default: '2000' }, count: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '2' } },
});
const WARMUP = Number(values.warmup);
const COUNT = Number(values.count);
const ROUNDS = Number(values.rounds);
const BLOCK = 100;
const KINDS = ['sdk', 'lean'] as const;

type Kind = 'sdk' | 'lean';

/**
 * The two writes of a plain call, as InvocationStore sends them: the accept Put (created already
 * taken) and the completing Update (output entry appended, result stored).
 */
async function captureShapes(tables: TableClients): Promise<{ put: Record<string, unknown>; update: Record<string, unknown> }> {
  const seen: Record<string, Record<string, unknown>> = {};
  tables.doc.use(async (call, next) => {
    seen[call.operation] ??= structuredClone(call.input);
    return next();
  });
  const store = new InvocationStore(tables);
  const id = 'inv-bench-shape';
  const rec = await store.accept(
    {
      id,
      service: 'greeter.Greeter',
      method: 'Greet',
      key: id,
      kind: 'unkeyed',
      input: new Uint8Array(48).fill(7),
      endpointId: 'ep-bench',
      retentionSec: 86_400,
    },
    { kind: 'take', leaseMs: 60_000 },
  );
  const output = { type: MessageType.OutputStream, flags: 0, body: new Uint8Array(40).fill(9) };
  const done = await store.complete(rec, { ...NO_PROGRESS, append: [output] }, { kind: 'value', value: new Uint8Array(32).fill(5) });
  if (done.kind !== 'committed') throw new Error(`the completing write was refused: ${done.kind}`);
  const put = seen.PutItemCommand;
  const update = seen.UpdateItemCommand;
  if (!put || !update) throw new Error(`expected one PutItem and one UpdateItem from the store, saw ${Object.keys(seen).join(', ')}`);
  return { put, update };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

type Op = 'PutItem' | 'UpdateItem';
interface Shapes {
  put: Record<string, unknown>;
  putItem: Record<string, unknown>;
  update: Record<string, unknown>;
}
type Figures = { cpuPerReq: number; wallPerReq: number };

/**
 * Both clients in alternating blocks of BLOCK requests (who goes first alternates too), so a
 * change in the machine's load falls on both alike.
 */
/**
 * Both clients in alternating blocks of BLOCK calls (who goes first alternates too), so a change
 * in the machine's load falls on both alike. A block accepts BLOCK new invocations, then completes
 * each of them; the two requests are timed apart.
 */
async function measure(shapes: Shapes, clients: Record<Kind, TableClients>, tag: string): Promise<Record<Kind, Record<Op, Figures>>> {
  const zero = () => ({ cpu: 0, wall: 0, n: 0 });
  const total = { sdk: { PutItem: zero(), UpdateItem: zero() }, lean: { PutItem: zero(), UpdateItem: zero() } };
  const block = async (kind: Kind, from: number, n: number, count: boolean) => {
    const ids = Array.from({ length: n }, (_, i) => `${tag}-${kind}-${from + i}`);
    for (const [op, send] of [
      ['PutItem', (id: string) => clients[kind].doc.send(new PutCommand({ ...shapes.put, Item: { ...shapes.putItem, pk: `inv#${id}`, id } } as never))],
      ['UpdateItem', (id: string) => clients[kind].doc.send(new UpdateCommand({ ...shapes.update, Key: { pk: `inv#${id}`, sk: 'meta' } } as never))],
    ] as const) {
      const cpu0 = cpuMs();
      const wall0 = performance.now();
      for (const id of ids) await send(id);
      if (!count) continue;
      total[kind][op].cpu += cpuMs() - cpu0;
      total[kind][op].wall += performance.now() - wall0;
      total[kind][op].n += n;
    }
  };
  for (const kind of KINDS) for (let done = 0; done < WARMUP; done += BLOCK) await block(kind, -WARMUP + done, Math.min(BLOCK, WARMUP - done), false);
  for (let b = 0, done = 0; done < COUNT; b++, done += BLOCK) {
    for (const kind of b % 2 === 0 ? KINDS : [...KINDS].reverse()) await block(kind, done, Math.min(BLOCK, COUNT - done), true);
  }
  const figures = (t: { cpu: number; wall: number; n: number }) => ({ cpuPerReq: t.cpu / t.n, wallPerReq: t.wall / t.n });
  const of = (kind: Kind) => ({ PutItem: figures(total[kind].PutItem), UpdateItem: figures(total[kind].UpdateItem) });
  return { sdk: of('sdk'), lean: of('lean') };
}

async function main(): Promise<void> {
  const ddb = await startDynamoDbLocal();
  try {
    const config = { endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    const tableName = 'bench-client-cpu';
    const clients: Record<Kind, TableClients> = { sdk: createTableClients(tableName, config, 'sdk'), lean: createTableClients(tableName, config, 'lean') };
    await ensureTable(clients.sdk.client, tableName);
    const captured = await captureShapes(createTableClients(tableName, config, 'lean'));
    const shapes: Shapes = { ...captured, putItem: captured.put.Item as Record<string, unknown> };
    console.log(`${new Date().toISOString()}  ${cpus()[0]?.model ?? '?'} ×${cpus().length}  load ${loadavg()[0]!.toFixed(2)}  node ${process.version}`);
    console.log(
      `accept PutItem: ${JSON.stringify(shapes.put).length} B of JSON; completing UpdateItem: ${JSON.stringify(shapes.update).length} B (${String(shapes.update.UpdateExpression).length}-character expression)`,
    );
    console.log(`${WARMUP} warm-up + ${COUNT} measured requests per client and row, one at a time, in alternating blocks of ${BLOCK}; ${ROUNDS} round(s)\n`);
    const rows: string[][] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const result = await measure(shapes, clients, `r${round}`);
      for (const op of ['PutItem', 'UpdateItem'] as const) {
        const { sdk, lean } = { sdk: result.sdk[op], lean: result.lean[op] };
        rows.push([
          String(round),
          op,
          fixed(sdk.cpuPerReq, 3),
          fixed(lean.cpuPerReq, 3),
          `${fixed((1 - lean.cpuPerReq / sdk.cpuPerReq) * 100, 0)} %`,
          fixed(sdk.wallPerReq, 2),
          fixed(lean.wallPerReq, 2),
        ]);
      }
    }
    console.log(table(['round', 'request', 'SDK CPU ms/req', 'lean CPU ms/req', 'saved', 'SDK wall ms', 'lean wall ms'], rows));
    for (const t of Object.values(clients)) {
      t.doc.destroy();
      t.client.destroy();
    }
  } finally {
    await ddb.stop();
  }
}

await main();
