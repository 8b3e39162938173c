/**
 * SQS, Scheduler and Lambda requests per call, measured on the bundled functions running one per
 * process with the SQS/Scheduler stand-in (lib/local/lambda-processes.ts), on DynamoDB Local.
 * DynamoDB requests per call are section 1 of bench/run.ts.
 * Usage: `npx tsx bench/aws-requests.ts [calls=10] [warm-up calls per case=1] [only cases whose label contains this]`.
 *
 * Also per call, for the ingress and the timer function: the billed duration (wall time from
 * handing the event over to its answer, as Lambda bills it; DynamoDB Local's latency stands in for
 * DynamoDB's) and the CPU time the function's process spent (from /proc, Linux only).
 */
import { createServer as createH2Server } from 'node:http2';
import { randomUUID } from 'node:crypto';
import * as restate from '@restatedev/restate-sdk';
import { exampleEndpoint } from '../examples/example-endpoint.js';
import type { greeterRouter } from '../examples/services.js';
import { defaultH2cPool } from '../lib/endpoint/h2c.js';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { createTableClients, ensureTable } from '../lib/store/table.js';
import { startLambdaProcesses } from '../lib/local/lambda-processes.js';
import { processCpuMs } from './process-cpu.js';

const calls = Number(process.argv[2] ?? 10);
/** Calls before the counted ones, per case: a long-lived Lambda instance runs warm (JIT-compiled) code. */
const warmup = Number(process.argv[3] ?? 1);
/** Only the cases whose label contains this. */
const only = process.argv[4];

let endpointCalls = 0;
const caller = restate.router({
  /** One call to another service (greeter/greet) and its answer. */
  call: async (ctx: restate.Context, req: { name: string }) => ctx.rpc<typeof greeterRouter>({ path: 'greeter' }).greet({ name: req.name }),
  /** Two steps: one side effect, journaled before the handler goes on, then the answer. */
  twoStep: async (ctx: restate.Context, req: { name: string }) => `${await ctx.sideEffect(async () => req.name.length)}`,
});

const ddb = await startDynamoDbLocal();
const tableName = `aws-requests-${randomUUID().slice(0, 8)}`;
const tables = createTableClients(tableName, { endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
await ensureTable(tables.client, tableName);
const handler = exampleEndpoint().bindRouter('caller', caller).http2Handler();
const endpoint = createH2Server((req, res) => {
  if (req.url.startsWith('/invoke/')) endpointCalls++;
  handler(req, res);
});
await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
const lambdas = await startLambdaProcesses({ ddbEndpoint: ddb.endpoint, tableName });
try {
  const reg = await lambdas.http('admin', 'POST', '/endpoints', { uri: `http://127.0.0.1:${(endpoint.address() as { port: number }).port}` });
  if (reg.status !== 201) throw new Error(`registration failed: ${reg.status} ${reg.text}`);
  const cases = [
    { label: 'plain call (greeter/greet)', path: '/greeter/greet', body: { request: { name: 'x' } } },
    { label: 'one side effect (two steps)', path: '/caller/twoStep', body: { request: { name: 'x' } } },
    { label: 'one sleep of 50 ms (waited inline)', path: '/sleeper/sleep', body: { request: { millis: 50 } } },
    { label: 'one sleep of 3 s (timer queue)', path: '/sleeper/sleep', body: { request: { millis: 3000 } } },
    { label: 'one call to another service', path: '/caller/call', body: { request: { name: 'x' } } },
    {
      label: 'idempotent duplicate (same key again)',
      path: '/greeter/greet',
      body: { request: { name: 'x' } },
      headers: { 'idempotency-key': `dup-${randomUUID()}` },
    },
    {
      label: 'one-way send (Ingress/Invoke)',
      path: '/dev.restate.Ingress/Invoke',
      body: { service: 'greeter', method: 'greet', argument: { request: { name: 'x' } } },
    },
  ];
  console.log(`per call, ${calls} calls each, after ${warmup} warm-up call(s)`);
  console.log(
    'case | SendMessage | CreateSchedule | timer batches | timer events | endpoint invokes | ingress billed ms | ingress CPU ms | timer billed ms | timer CPU ms',
  );
  for (const c of cases) {
    if (only && !c.label.includes(only)) continue;
    for (let i = 0; i < warmup; i++) await lambdas.http('ingress', 'POST', c.path, c.body, c.headers);
    await new Promise((r) => setTimeout(r, 1500));
    const before = {
      sent: lambdas.queues.sent.length,
      sched: lambdas.queues.schedules.length,
      batches: lambdas.queues.batches.length,
      events: lambdas.queues.batches.flat().length,
      ep: endpointCalls,
      ingressMs: lambdas.functions.ingress.billedMs,
      timerMs: lambdas.functions.timer.billedMs,
      ingressCpu: processCpuMs(lambdas.functions.ingress.pid),
      timerCpu: processCpuMs(lambdas.functions.timer.pid),
    };
    for (let i = 0; i < calls; i++) {
      const res = await lambdas.http('ingress', 'POST', c.path, c.body, c.headers);
      if (res.status !== 200) throw new Error(`${c.label}: ${res.status} ${res.text}`);
    }
    // One-way sends finish in the background: let the timer function catch up.
    await new Promise((r) => setTimeout(r, 3000));
    const per = (n: number) => (n / calls).toFixed(2);
    console.log(
      `${c.label} | ${per(lambdas.queues.sent.length - before.sent)} | ${per(lambdas.queues.schedules.length - before.sched)} | ${per(lambdas.queues.batches.length - before.batches)} | ${per(lambdas.queues.batches.flat().length - before.events)} | ${per(endpointCalls - before.ep)} | ${per(lambdas.functions.ingress.billedMs - before.ingressMs)} | ${per(processCpuMs(lambdas.functions.ingress.pid) - before.ingressCpu)} | ${per(lambdas.functions.timer.billedMs - before.timerMs)} | ${per(processCpuMs(lambdas.functions.timer.pid) - before.timerCpu)}`,
    );
  }
} finally {
  await lambdas.stop();
  await defaultH2cPool.close();
  endpoint.close();
  await ddb.stop();
}
