/**
 * The bundled ingress, admin and timer functions, each in a process of its own taking one event
 * at a time, on one table, with kicks and wake-ups through the AwsKicker and an SQS/Scheduler
 * stand-in: the seed's call, a durable sleep woken by the queue, a kill from the admin process of
 * an attempt running in the ingress process, and an idempotent duplicate.
 */
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import * as restate from '@restatedev/restate-sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { exampleEndpoint } from '../../examples/example-endpoint.js';
import { defaultH2cPool } from '../../lib/endpoint/h2c.js';
import { freshTable } from '../support/ddb.js';
import { startLambdaProcesses } from '../../lib/local/lambda-processes.js';
import { eventually } from '../support/runtime.js';

/** Bundling three functions and starting three processes takes a while on a shared machine. */
const SETUP_MS = 180_000;

const finished: string[] = [];
const slow = restate.router({
  /** Runs for `ms` inside a side effect: the attempt is busy (not suspended) all that time. */
  work: async (ctx: restate.Context, req: { ms: number; tag: string }) => {
    await ctx.sideEffect(() => new Promise<number>((r) => setTimeout(() => r(1), req.ms)));
    finished.push(req.tag);
    return 'finished';
  },
});

let lambdas: Awaited<ReturnType<typeof startLambdaProcesses>>;
let endpoint: Http2Server;
let tables: Awaited<ReturnType<typeof freshTable>>;

beforeAll(async () => {
  tables = await freshTable('lambdas');
  endpoint = createH2Server(exampleEndpoint().bindRouter('slow', slow).http2Handler());
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  const port = (endpoint.address() as { port: number }).port;
  // Sweeps every 2 s here (60 s on AWS), so a lost message would show as a delay, not a hang.
  lambdas = await startLambdaProcesses({ ddbEndpoint: inject('ddbEndpoint'), tableName: tables.tableName, sweepIntervalMs: 2_000 });
  const registered = await lambdas.http('admin', 'POST', '/endpoints', { uri: `http://127.0.0.1:${port}` });
  expect(registered.status, registered.text).toBe(201);
}, SETUP_MS);

afterAll(async () => {
  await lambdas?.stop();
  await defaultH2cPool.close();
  await new Promise<void>((r) => (endpoint ? endpoint.close(() => r()) : r()));
});

describe('the functions in separate processes', () => {
  it('builds three bundles with the construct options (ESM, minified, @aws-sdk left out)', () => {
    for (const b of Object.values(lambdas.bundles)) {
      expect(b.path).toMatch(/index\.mjs$/);
      // Bundling the SDK would add well over a megabyte; ours stay below that.
      expect(b.bytes).toBeLessThan(3_000_000);
    }
  });

  it("answers the seed's call through the ingress function", async () => {
    const res = await lambdas.http('ingress', 'POST', '/org.example.Greeter/Greet', { name: 'Pete' });
    expect(res.status, res.text).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ greeting: 'Hello Pete' });
    expect(res.headers['x-restate-id']).toMatch(/^inv_/);
  });

  it('wakes a 3 s sleep through the timer queue (DelaySeconds 3) and the timer function', async () => {
    const timerBefore = lambdas.functions.timer.invocations;
    const sentBefore = lambdas.queues.sent.length;
    const started = Date.now();
    const res = await lambdas.http('ingress', 'POST', '/sleeper/sleep', { request: { millis: 3_000 } }, { 'content-type': 'application/json' });
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('slept 3000');
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    const wakeUps = lambdas.queues.sent.slice(sentBefore).filter((m) => (JSON.parse(m.body) as { reason?: string }).reason === 'sleep');
    expect(wakeUps).toHaveLength(1);
    expect(wakeUps[0]!.delaySeconds).toBe(3);
    expect(lambdas.functions.timer.invocations).toBeGreaterThan(timerBefore);
    expect(lambdas.queues.schedules).toEqual([]);
  });

  it('kills, from the admin process, an attempt running in the ingress process', async () => {
    const call = lambdas.http('ingress', 'POST', '/slow/work', { request: { ms: 4_000, tag: 'killed-one' } });
    // The test reads the shared table to learn the id (a client would have x-restate-id from /send).
    const id = await eventually(async () => {
      const items = await tables.doc.send(new ScanCommand({ TableName: tables.tableName }));
      const inv = (items.Items ?? []).find((i) => String(i['pk']).startsWith('inv#') && i['service'] === 'slow');
      return inv ? String(inv['pk']).slice(4) : undefined;
    });
    const killed = await lambdas.http('admin', 'DELETE', `/invocations/${id}`);
    expect(killed.status, killed.text).toBe(202);

    const res = await call;
    expect(res.status, res.text).toBe(409);
    expect(JSON.parse(res.text)).toEqual({ code: 'aborted', message: 'killed' });
    const status = await lambdas.http('admin', 'GET', `/invocations/${id}`);
    expect(JSON.parse(status.text)).toMatchObject({ status: 'completed' });
    expect(status.text).toContain('killed');
  });

  it('answers an idempotent duplicate from the first call, without running it again', async () => {
    const headers = { 'idempotency-key': 'lambda-processes-dup' };
    const first = await lambdas.http('ingress', 'POST', '/slow/work', { request: { ms: 10, tag: 'dup' } }, headers);
    const second = await lambdas.http('ingress', 'POST', '/slow/work', { request: { ms: 10, tag: 'dup' } }, headers);
    expect(first.status, first.text).toBe(200);
    expect(second.status, second.text).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.headers['x-restate-id']).toBe(first.headers['x-restate-id']);
    expect(finished.filter((t) => t === 'dup')).toEqual(['dup']);
  });

  it('left nothing in the dead letters', () => {
    expect(lambdas.queues.deadLetters).toEqual([]);
  });
});
