/**
 * gRPC vs Connect on the local ingress (`npx tsx bench/grpc.ts`, about 40 s).
 *
 * Starts the local runner as `npm start` does (DynamoDB Local in a temporary folder, the example
 * endpoint over h2c) and calls `org.example.Greeter/Greet` with Connect-ES clients, each protocol
 * on its own path through the ingress port:
 *
 *   Connect  HTTP/1.1 ─ API Gateway emulation ─ ingress Lambda handler ─┐
 *   gRPC-web HTTP/1.1 ─ API Gateway emulation ─ ingress Lambda handler ─┼─ callUnary ─ DynamoDB, endpoint
 *   Connect  HTTP/2   ─ API Gateway emulation ─ ingress Lambda handler ─┤
 *   gRPC     HTTP/2   ─ native handler (in process, real trailers) ─────┘
 *
 * Each row: `calls` calls by `concurrency` workers after a warm-up; latency is per call as the
 * client sees it, throughput is calls / wall time. Every call is a durable invocation (DynamoDB
 * writes dominate), so the protocol's own cost is the difference between rows.
 *
 * Flags: --calls1 <n> (default 150), --calls16 <n> (default 600).
 */
import './env.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { create, createFileRegistry, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { startLocal } from '../lib/local/runner.js';
import { fixed, percentile, table } from './format.js';

const { values } = parseArgs({ options: { calls1: { type: 'string' }, calls16: { type: 'string' } } });
const CALLS: Record<number, number> = { 1: Number(values.calls1 ?? 150), 16: Number(values.calls16 ?? 600) };

/** `org.example.Greeter` (examples/greeter/greeter.proto), without the Restate options. */
const greeter: DescService = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: 'greeter.proto',
    package: 'org.example',
    syntax: 'proto3',
    messageType: [
      { name: 'GreetRequest', field: [{ name: 'name', number: 1, type: 9, label: 1, jsonName: 'name' }] },
      { name: 'GreetResponse', field: [{ name: 'greeting', number: 1, type: 9, label: 1, jsonName: 'greeting' }] },
    ],
    service: [{ name: 'Greeter', method: [{ name: 'Greet', inputType: '.org.example.GreetRequest', outputType: '.org.example.GreetResponse' }] }],
  }),
  () => undefined,
).getService('org.example.Greeter')!;

type Greet = (req: { name: string }) => Promise<{ greeting?: string }>;

function greetOf(transport: Transport): Greet {
  return createClient(greeter, transport)['greet'] as unknown as Greet;
}

async function measure(transport: Transport, concurrency: number, calls: number) {
  const greet = greetOf(transport);
  for (let i = 0; i < 10; i++) await greet({ name: 'warm' });
  const ms: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls) {
        const i = next++;
        const t = performance.now();
        try {
          const res = await greet({ name: `n${i}` });
          if (res.greeting !== `Hello n${i}`) errors++;
        } catch {
          errors++;
        }
        ms.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), perSecond: calls / elapsed, errors };
}

const dataDir = mkdtempSync(join(tmpdir(), 'restless-bench-grpc-'));
const runner = await startLocal({ ingressPort: 0, adminPort: 0, dataDir, dynamoPort: 0, examplePort: 0, register: [], host: '127.0.0.1' });
try {
  const url = runner.ingressUrl;
  const protocols: [string, () => Transport][] = [
    ['Connect (proto) HTTP/1.1, via Lambda', () => createConnectTransport({ baseUrl: url, httpVersion: '1.1' })],
    ['gRPC-web HTTP/1.1, via Lambda', () => createGrpcWebTransport({ baseUrl: url, httpVersion: '1.1' })],
    ['Connect (proto) HTTP/2, via Lambda', () => createConnectTransport({ baseUrl: url, httpVersion: '2' })],
    ['gRPC HTTP/2, native', () => createGrpcTransport({ baseUrl: url })],
  ];
  // JIT, DynamoDB Local and the endpoint warm up on the first few hundred calls whatever the protocol.
  for (const [, make] of protocols)
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const greet = greetOf(make());
        for (let i = 0; i < 25; i++) await greet({ name: 'warm' });
      }),
    );
  const rows: string[][] = [];
  for (const concurrency of [1, 16]) {
    for (const [label, make] of protocols) {
      const r = await measure(make(), concurrency, CALLS[concurrency]!);
      rows.push([
        label,
        String(concurrency),
        String(CALLS[concurrency]),
        fixed(r.p50, 1),
        fixed(r.p99, 1),
        fixed(r.perSecond, 0),
        String(r.errors),
        fixed(loadavg()[0]!, 1),
      ]);
      console.error(`  done: ${label}, concurrency ${concurrency}`);
    }
  }
  console.log('\norg.example.Greeter/Greet on the local ingress (each call a durable invocation on DynamoDB Local)\n');
  console.log(table(['protocol', 'concurrency', 'calls', 'p50 ms', 'p99 ms', 'calls/s', 'errors', 'load 1m'], rows));
  console.log(`\n  ${cpus().length} CPUs; a load average near or above that means other work skewed the figures.`);
} finally {
  await runner.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
