import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { readFileSync } from 'node:fs';
import { startDynamoDbLocal } from '/work/main/lib/local/dynamodb-local.js';
import { MessageType } from '/work/main/lib/protocol/framing.js';
import { InvocationStore } from '/work/main/lib/store/invocation-store.js';
import { NO_PROGRESS } from '/work/main/lib/store/operations.js';
import { createTableClients, ensureTable } from '/work/main/lib/store/table.js';
const db = await startDynamoDbLocal({});
const pid = db.pid!;
const jvm = () => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const t = createTableClients('ttt', { endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
await ensureTable(t.client, 'ttt');
const seen: Record<string, any> = {};
t.doc.use(async (call, next) => { seen[call.operation] ??= structuredClone(call.input); return next(); });
const store = new InvocationStore(t);
let n = 0;
async function one() {
  const id = `inv-${n++}-${Math.random()}`;
  const rec = await store.accept({ id, service: 'greeter.Greeter', method: 'Greet', key: id, kind: 'unkeyed', input: new Uint8Array(48).fill(7), endpointId: 'ep-bench', retentionSec: 86_400 }, { kind: 'take', leaseMs: 60_000 });
  const output = { type: MessageType.OutputStream, flags: 0, body: new Uint8Array(40).fill(9) };
  await store.complete(rec, { ...NO_PROGRESS, append: [output] }, { kind: 'value', value: new Uint8Array(32).fill(5) });
}
await one();
console.log(JSON.stringify(seen, null, 1).slice(0, 4000));
async function run(name: string, count: number, conc: number, f: () => Promise<unknown>) {
  const c0 = jvm(); const t0 = performance.now(); let left = count;
  await Promise.all(Array.from({ length: conc }, async () => { while (left-- > 0) await f(); }));
  const ms = performance.now() - t0;
  console.log(`${name.padEnd(30)} jvm ms/op ${((jvm() - c0) / count).toFixed(2)}  ops/s ${(count / ms * 1000).toFixed(0)}`);
}
const put = seen.PutItemCommand; const upd = seen.UpdateItemCommand;
const fresh = (o: any) => { const id = `x${n++}`; return { ...o, Item: { ...o.Item, pk: `inv#${id}` } }; };
const stripGsi = (o: any) => { const I = { ...o.Item }; for (const k of Object.keys(I)) if (/^g|^l|^d|^p/.test(k) && k !== 'pk') delete I[k]; return { ...o, Item: I }; };
const noCond = (o: any) => { const { ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues, ...rest } = o; return rest; };
await run('warm calls', 3000, 4, one);
for (let r = 0; r < 2; r++) {
  await run('call (put+update)', 1500, 4, one);
  await run('put as is', 1500, 4, () => t.doc.send(new PutCommand(fresh(put))));
  await run('put no condition', 1500, 4, () => t.doc.send(new PutCommand(noCond(fresh(put)))));
  await run('put no gsi attrs', 1500, 4, () => t.doc.send(new PutCommand(stripGsi(fresh(put)))));
}
await db.stop(); process.exit(0);
