/**
 * Section 2: latency and throughput of the local stack (what `npm start` runs: the ingress Lambda
 * handler behind a Node HTTP server, DynamoDB Local, the example endpoint over h2c), called over
 * HTTP with keep-alive connections by `concurrency` workers until `calls` calls are done (or the
 * row's time limit passes).
 */
import { loadavg } from 'node:os';
import type { DynamoMetrics } from '../lib/store/metrics.js';
import type { DynamoTrace } from './ddb-trace.js';
import { fixed, note, percentile, table } from './format.js';
import { postJson } from './http.js';

export interface LoadScenario {
  label: string;
  path: string;
  body(i: number): unknown;
}

export interface LoadResult {
  scenario: LoadScenario;
  concurrency: number;
  calls: number;
  errors: number;
  firstError?: string;
  p50: number;
  p99: number;
  max: number;
  perSecond: number;
  /** DynamoDB requests per call while under this load (background work included). */
  ddbPerCall: number;
  /** Requests per call by `operation [items] site`. */
  sites: Map<string, number>;
  /** Mean duration of a DynamoDB write and read request during the row. */
  writeMs: number;
  readMs: number;
  /** 1-minute load average at the end of the row: other work on the machine skews the figures. */
  load: number;
}

async function drive(
  base: string,
  s: LoadScenario,
  concurrency: number,
  calls: number,
  offset: number,
  limitMs = Infinity,
): Promise<{ ms: number[]; issued: number; errors: number; firstError?: string; elapsed: number }> {
  const ms: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      if (next >= calls || performance.now() - started > limitMs) return;
      const i = next++;
      try {
        const res = await postJson(base + s.path, s.body(offset + i));
        ms.push(res.ms);
        if (res.status !== 200) {
          errors++;
          firstError ??= `${res.status} ${res.text.slice(0, 160)}`;
        }
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms, issued: next, errors, firstError, elapsed: performance.now() - started };
}

export async function runLoad(
  base: string,
  s: LoadScenario,
  concurrency: number,
  maxCalls: number,
  warmup: number,
  limitMs: number,
  metrics: DynamoMetrics,
  trace: DynamoTrace,
  settle: () => Promise<void>,
): Promise<LoadResult> {
  await drive(base, s, concurrency, warmup, 1_000_000);
  await settle();
  metrics.reset();
  trace.reset();
  const run = await drive(base, s, concurrency, maxCalls, 0, limitMs);
  const calls = run.issued;
  await settle();
  const requests = Object.values(metrics.snapshot().requests).reduce((a, b) => a + b, 0);
  const sites = new Map<string, number>();
  for (const r of trace.requests) {
    const key = `${r.op} [${r.items.join(' + ')}] ${r.site}`;
    sites.set(key, (sites.get(key) ?? 0) + 1 / calls);
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const isWrite = (op: string) => /Put|Update|Delete|Write/.test(op);
  return {
    scenario: s,
    concurrency,
    calls,
    errors: run.errors,
    firstError: run.firstError,
    p50: percentile(run.ms, 50),
    p99: percentile(run.ms, 99),
    max: Math.max(...run.ms),
    perSecond: (calls / run.elapsed) * 1000,
    ddbPerCall: requests / calls,
    sites,
    writeMs: mean(trace.requests.filter((r) => isWrite(r.op)).map((r) => r.ms)),
    readMs: mean(trace.requests.filter((r) => !isWrite(r.op)).map((r) => r.ms)),
    load: loadavg()[0]!,
  };
}

export function printLoad(results: LoadResult[]): string[] {
  const lines = [
    table(
      ['scenario', 'conc', 'calls', 'errors', 'p50 ms', 'p99 ms', 'max ms', 'calls/s', 'DDB req/call', 'DDB write ms', 'DDB read ms', 'load'],
      results.map((r) => [
        r.scenario.label,
        String(r.concurrency),
        String(r.calls),
        String(r.errors),
        fixed(r.p50, 1),
        fixed(r.p99, 1),
        fixed(r.max, 1),
        fixed(r.perSecond, 0),
        fixed(r.ddbPerCall),
        fixed(r.writeMs, 1),
        fixed(r.readMs, 1),
        fixed(r.load, 1),
      ]),
    ),
  ];
  for (const r of results) if (r.firstError) lines.push(`  ${r.scenario.label} c=${r.concurrency}: first error: ${r.firstError}`);
  // What concurrency adds: requests per call that the same scenario at concurrency 1 did not make.
  for (const r of results) {
    const solo = results.find((x) => x.scenario.label === r.scenario.label && x.concurrency === 1);
    if (!solo || solo === r) continue;
    const extra = [...r.sites].map(([site, n]) => [site, n - (solo.sites.get(site) ?? 0)] as const).filter(([, d]) => d >= 0.1);
    for (const [site, d] of extra) lines.push(note(`${r.scenario.label} c=${r.concurrency}: +${fixed(d)}/call ${site}`, '      ', '  + '));
  }
  return lines;
}
