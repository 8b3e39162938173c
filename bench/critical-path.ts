/**
 * Where one plain call's latency goes. Runs the local stack in this process (DynamoDB Local in
 * memory, or on disk with --disk; the example endpoint in process), warms it up, then sends calls
 * one at a time and cuts each call into segments at the HTTP events reported through diagnostics
 * channels (Node's for the ingress request and response, the lean DynamoDB client's for each
 * DynamoDB request and its answer) and the HTTP/2 stream to the endpoint. Prints the median of each segment, the latency, and the
 * CPU per call at concurrency 16 (this process: ingress, driver, endpoint and the load client;
 * DynamoDB Local's JVM apart).
 *
 *   npx tsx bench/critical-path.ts [--disk] [--warmup 3000] [--calls 400] [--cpu-prof FILE]
 *
 * --cpu-prof writes a CPU profile of this process during the concurrency-16 run only.
 */
import { execSync } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import http2 from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocal } from '../lib/local/runner.js';
import { processCpuMs } from './process-cpu.js';

const { values: args } = parseArgs({
  options: {
    disk: { type: 'boolean' },
    warmup: { type: 'string', default: '3000' },
    calls: { type: 'string', default: '400' },
    'cpu-prof': { type: 'string' },
  },
});
process.env.RESTLESS_LOG_LEVEL ??= 'warn';
// The example endpoint runs in this process: without this its SDK prints two debug lines per call,
// CPU that is the endpoint's, not the runtime's.
process.env.RESTATE_DEBUG_LOGGING ??= 'OFF';

const events: [string, number][] = [];
let recording = false;
const mark = (name: string) => () => void (recording && events.push([name, performance.now()]));
dc.subscribe('http.server.request.start', mark('ingress request'));
dc.subscribe('http.server.response.finish', mark('ingress response'));
// The lean DynamoDB client has its own HTTP client, which publishes these (lib/store/dynamo/http.ts).
dc.subscribe('restless:dynamodb.request.start', mark('DynamoDB request'));
dc.subscribe('restless:dynamodb.response.finish', mark('DynamoDB answer'));
// HTTP/2 has no diagnostics channels in Node 20: mark the endpoint stream by wrapping connect.
const connect = http2.connect.bind(http2);
(http2 as { connect: unknown }).connect = (...a: Parameters<typeof http2.connect>) => {
  const session = connect(...a);
  const request = session.request.bind(session);
  session.request = (...b: Parameters<typeof session.request>) => {
    mark('endpoint request')();
    const stream = request(...b);
    stream.once('end', mark('endpoint answer'));
    return stream;
  };
  return session;
};

const dataDir = args.disk ? mkdtempSync(join(tmpdir(), 'restless-critical-path-')) : undefined;
const runner = await startLocal({ ingressPort: 0, adminPort: 0, dataDir, dynamoPort: 0, examplePort: 0, register: [], host: '127.0.0.1' });
const url = `${runner.ingressUrl}/org.example.Greeter/Greet`;
const call = async () => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Pete"}' });
  if (!(await res.text()).includes('Hello Pete')) throw new Error(`unexpected answer ${res.status}`);
};
// The JVM the runner started, found by its port.
const jvmPid = Number(
  execSync(`pgrep -f "DynamoDBLocal.jar .*-port ${new URL(runner.dynamoEndpoint).port}"`)
    .toString()
    .trim()
    .split('\n')[0],
);

async function load(n: number, concurrency: number) {
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await call();
    }),
  );
}

/** Starts the inspector's sampling profiler; the returned function stops it and gives the profile. */
async function startProfile(): Promise<() => Promise<object>> {
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<Record<string, unknown>>((res, rej) => session.post(method, (err, result) => (err ? rej(err) : res(result as Record<string, unknown>))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => ((await post('Profiler.stop')) as { profile: object }).profile;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
try {
  await load(Number(args.warmup), 4);
  const latencies: number[] = [];
  const segments = new Map<string, number[]>();
  recording = true;
  for (let i = 0; i < Number(args.calls); i++) {
    events.length = 0;
    const t0 = performance.now();
    events.push(['client sends', t0]);
    await call();
    latencies.push(performance.now() - t0);
    events.forEach(([name, t], j) => {
      if (j === 0) return;
      const key = `${String(j).padStart(2)}  ${events[j - 1]![0]} → ${name}`;
      (segments.get(key) ?? segments.set(key, []).get(key)!).push(t - events[j - 1]![1]);
    });
  }
  recording = false;
  console.log(`DynamoDB Local ${args.disk ? 'on disk' : 'in memory'}, ${args.warmup} calls of warm-up, ${args.calls} calls one at a time`);
  console.log(`latency p50 ${median(latencies).toFixed(2)} ms, p99 ${pct(latencies, 0.99).toFixed(2)} ms; median per segment (ms):`);
  for (const [key, xs] of [...segments].sort()) if (xs.length >= Number(args.calls) * 0.9) console.log(`  ${median(xs).toFixed(2).padStart(6)}  ${key}`);
  const n = 3000;
  const jvm0 = processCpuMs(jvmPid);
  const own0 = process.cpuUsage();
  const profiler = args['cpu-prof'] ? await startProfile() : undefined;
  const t0 = performance.now();
  await load(n, 16);
  const seconds = (performance.now() - t0) / 1000;
  const own = process.cpuUsage(own0);
  if (profiler && args['cpu-prof']) writeFileSync(args['cpu-prof'], JSON.stringify(await profiler()));
  console.log(
    `concurrency 16: ${(n / seconds).toFixed(0)} calls/s; CPU ms per call: this process ${((own.user + own.system) / 1000 / n).toFixed(2)} (user ${(own.user / 1000 / n).toFixed(2)}, system ${(own.system / 1000 / n).toFixed(2)}), DynamoDB Local ${((processCpuMs(jvmPid) - jvm0) / n).toFixed(2)}`,
  );
} finally {
  await runner.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
