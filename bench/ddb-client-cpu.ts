/**
 * Node CPU per DynamoDB request: the AWS SDK's DocumentClient vs the lean client, for the two
 * requests the runtime makes most, in the store's real shapes: the accept PutItem of a new
 * invocation and the take UpdateItem (ReturnValues ALL_NEW). The inputs are captured from
 * InvocationStore itself, then replayed one request at a time against DynamoDB Local (in memory).
 * Only this process's CPU is counted (process.cpuUsage), not DynamoDB Local's.
 *
 *   npx tsx bench/ddb-client-cpu.ts [--warmup 2000] [--count 2000] [--rounds 2]
 *
 * The two clients take turns in blocks of 100 requests, so load from elsewhere on the machine
 * falls on both alike.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { InvocationStore } from '../lib/store/invocation-store.js';
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

/** The accept Put and the take Update as InvocationStore sends them (a fixed clock makes the take repeatable). */
async function captureShapes(tables: TableClients): Promise<{ put: Record<string, unknown>; update: Record<string, unknown> }> {
  const seen: Record<string, Record<string, unknown>> = {};
  tables.doc.use(async (call, next) => {
    seen[call.operation] ??= structuredClone(call.input);
    return next();
  });
  const store = new InvocationStore(tables, () => 1_800_000_000_000);
  const id = 'inv-bench-shape';
  await store.accept(
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
    { kind: 'runnable' },
  );
  // A zero lease leaves `lease <= now` true, so the same update can be replayed as often as wanted.
  await store.take(id, 0);
  const put = seen.PutItemCommand;
  const update = seen.UpdateItemCommand;
  if (!put || !update) throw new Error(`expected one PutItem and one UpdateItem from the store, saw ${Object.keys(seen).join(', ')}`);
  return { put, update };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

type Sender = (i: number) => Promise<unknown>;
type Figures = { cpuPerReq: number; wallPerReq: number };

/**
 * Both clients in alternating blocks of BLOCK requests (who goes first alternates too), so a
 * change in the machine's load falls on both alike.
 */
async function measurePair(sends: Record<Kind, Sender>): Promise<Record<Kind, Figures>> {
  for (const kind of KINDS) for (let i = 0; i < WARMUP; i++) await sends[kind](-1 - i);
  const total = { sdk: { cpu: 0, wall: 0, n: 0 }, lean: { cpu: 0, wall: 0, n: 0 } };
  for (let block = 0, done = 0; done < COUNT; block++, done += BLOCK) {
    const n = Math.min(BLOCK, COUNT - done);
    for (const kind of block % 2 === 0 ? KINDS : [...KINDS].reverse()) {
      const cpu0 = cpuMs();
      const wall0 = performance.now();
      for (let i = 0; i < n; i++) await sends[kind](done + i);
      total[kind].cpu += cpuMs() - cpu0;
      total[kind].wall += performance.now() - wall0;
      total[kind].n += n;
    }
  }
  const figures = (t: { cpu: number; wall: number; n: number }) => ({ cpuPerReq: t.cpu / t.n, wallPerReq: t.wall / t.n });
  return { sdk: figures(total.sdk), lean: figures(total.lean) };
}

async function main(): Promise<void> {
  const ddb = await startDynamoDbLocal();
  try {
    const config = { endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    const tableName = 'bench-client-cpu';
    const clients: Record<Kind, TableClients> = { sdk: createTableClients(tableName, config, 'sdk'), lean: createTableClients(tableName, config, 'lean') };
    await ensureTable(clients.sdk.client, tableName);
    const shapes = await captureShapes(createTableClients(tableName, config, 'lean'));
    const putItem = shapes.put.Item as Record<string, unknown>;
    const sends: Record<'PutItem' | 'UpdateItem', (tables: TableClients, run: string) => (i: number) => Promise<unknown>> = {
      // A fresh key each time: the accept's condition is attribute_not_exists(pk).
      PutItem: (t, run) => (i) => t.doc.send(new PutCommand({ ...shapes.put, Item: { ...putItem, pk: `inv#${run}-${i}`, id: `${run}-${i}` } } as never)),
      UpdateItem: (t) => () => t.doc.send(new UpdateCommand(shapes.update as never)),
    };
    console.log(`${new Date().toISOString()}  ${cpus()[0]?.model ?? '?'} ×${cpus().length}  load ${loadavg()[0]!.toFixed(2)}  node ${process.version}`);
    console.log(
      `PutItem item: ${JSON.stringify(shapes.put).length} B of JSON; UpdateItem: ${JSON.stringify(shapes.update).length} B, ReturnValues ${String(shapes.update.ReturnValues)}`,
    );
    console.log(`${WARMUP} warm-up + ${COUNT} measured requests per client and row, one at a time, in alternating blocks of ${BLOCK}; ${ROUNDS} round(s)\n`);
    const rows: string[][] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const op of ['PutItem', 'UpdateItem'] as const) {
        const { sdk, lean } = await measurePair({ sdk: sends[op](clients.sdk, `sdk${round}`), lean: sends[op](clients.lean, `lean${round}`) });
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
