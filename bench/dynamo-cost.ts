/**
 * Section 1: DynamoDB requests and consumed capacity per invocation.
 *
 * Each case: a few warm-up calls (registry cache warm), then N sequential calls over HTTP to the
 * local stack; every request of the runtime's DynamoDB client is counted (lib/store/metrics.ts
 * for the totals, bench/ddb-trace.ts for which item and which line of code), background work
 * included (we wait until the client is idle), and divided by N.
 */
import type { DynamoMetrics } from '../lib/store/metrics.js';
import { REGISTRY_KINDS, type DynamoTrace, type TracedRequest } from './ddb-trace.js';
import { fixed, note, table } from './format.js';
import { isUnavailable, postJson, type CallResult } from './http.js';

const READ_OPS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const WRITE_OPS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem']);

export interface CostCase {
  id: string;
  label: string;
  /** What is measured, in a few words. */
  what: string;
  path: string;
  body(i: number): unknown;
  headers?(i: number): Record<string, string>;
  calls: number;
  /** Instead of measuring: the reason it cannot be measured in this build. */
  unavailable?: string;
}

export interface CostResult {
  case: CostCase;
  errors: number;
  /** Requests left out of the figures (see summarize). */
  excluded?: number;
  perCall: {
    requests: number;
    byOp: Record<string, number>;
    writes: number;
    reads: number;
    /** Reads of anything but registry items (which the resolver caches). */
    hotReads: number;
    registryReads: number;
    wcu: number;
    /** Of `wcu`, the part spent on the index (the sparse `due` GSI). */
    wcuIndex: number;
    /** DynamoDB Local reports a transactional write at 1 WCU per item; AWS charges 2 on the table. */
    wcuAws: number;
    rcu: number;
    /** Time spent waiting for DynamoDB, summed over the call's requests. */
    ddbMs: number;
    /** SDK retries (throttling, transaction conflicts) and failed requests (refused conditions). */
    retries: number;
    failed: number;
  };
  breakdown: { perCall: number; what: string; site: string; req: TracedRequest }[];
}

/** Waits until the client has been idle for `quietMs` (background drives, kicks, timers). */
export async function settle(trace: DynamoTrace, quietMs = 250, maxMs = 10_000): Promise<void> {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, quietMs));
  while (Date.now() - trace.lastAt < quietMs && Date.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function call(base: string, c: CostCase, i: number): Promise<CallResult> {
  return postJson(base + c.path, c.body(i), c.headers?.(i) ?? {});
}

export async function measureCase(base: string, c: CostCase, metrics: DynamoMetrics, trace: DynamoTrace, warmup: number): Promise<CostResult | undefined> {
  for (let i = 0; i < warmup; i++) {
    const res = await call(base, c, -1 - i);
    if (isUnavailable(res.status)) {
      c.unavailable = `answers ${res.status}: ${res.text.slice(0, 120)}`;
      return undefined;
    }
  }
  return measureRun(c, metrics, trace, async () => {
    let errors = 0;
    for (let i = 0; i < c.calls; i++) {
      const res = await call(base, c, i);
      if (res.status !== 200) errors++;
    }
    return errors;
  });
}

/**
 * Counts the DynamoDB requests of `run` (which makes `c.calls` calls in any order or concurrency
 * and returns how many failed): waits for quiet, resets the counters, runs, waits until the
 * background work is done, and divides by `c.calls`.
 */
export async function measureRun(
  c: CostCase,
  metrics: DynamoMetrics,
  trace: DynamoTrace,
  run: () => Promise<number>,
  exclude?: (r: TracedRequest) => boolean,
): Promise<CostResult> {
  await settle(trace);
  metrics.reset();
  trace.reset();
  const errors = await run();
  await settle(trace);
  return summarize(c, metrics, trace, errors, exclude);
}

/** The local runner's periodic sweep (16 index queries a minute, whatever the traffic). */
export const isSweep = (r: TracedRequest): boolean => r.op === 'Query' && r.items.includes('lease');

/**
 * Per-call figures of what the counters hold now (see measureRun). Requests matching `exclude`
 * (e.g. the periodic sweep, which is not caused by the calls) are left out of every figure and
 * counted in `excluded`.
 */
export function summarize(c: CostCase, metrics: DynamoMetrics, trace: DynamoTrace, errors: number, exclude?: (r: TracedRequest) => boolean): CostResult {
  const totals = metrics.snapshot();
  const n = c.calls;
  const left = exclude ? trace.requests.filter(exclude) : [];
  for (const r of left) {
    const op = `${r.op}Command`;
    totals.requests[op] = (totals.requests[op] ?? 1) - 1;
    if (totals.requests[op] === 0) delete totals.requests[op];
    totals.readCapacity -= r.readUnits;
    totals.writeCapacity -= r.writeUnits;
  }
  const reqs = exclude ? trace.requests.filter((r) => !exclude(r)) : trace.requests;
  const count = (pred: (r: TracedRequest) => boolean) => reqs.filter(pred).length / n;
  const isRegistry = (r: TracedRequest) => r.items.every((k) => REGISTRY_KINDS.has(k));
  const groups = new Map<string, { n: number; req: TracedRequest }>();
  for (const r of reqs) {
    const key = `${r.op}|${r.items.join('+')}|${r.consistent}|${r.error ?? ''}|${r.site}`;
    const g = groups.get(key);
    if (g) g.n++;
    else groups.set(key, { n: 1, req: r });
  }
  const byOp: Record<string, number> = {};
  for (const [op, k] of Object.entries(totals.requests)) byOp[op.replace(/Command$/, '')] = k / n;
  return {
    case: c,
    errors,
    excluded: left.length,
    perCall: {
      requests: Object.values(totals.requests).reduce((a, b) => a + b, 0) / n,
      byOp,
      writes: count((r) => WRITE_OPS.has(r.op)),
      reads: count((r) => READ_OPS.has(r.op)),
      hotReads: count((r) => READ_OPS.has(r.op) && !isRegistry(r)),
      registryReads: count((r) => READ_OPS.has(r.op) && isRegistry(r)),
      wcu: totals.writeCapacity / n,
      wcuIndex: reqs.reduce((s, r) => s + r.indexWriteUnits, 0) / n,
      wcuAws: reqs.reduce((s, r) => s + (r.op === 'TransactWriteItems' ? 2 * (r.writeUnits - r.indexWriteUnits) + r.indexWriteUnits : r.writeUnits), 0) / n,
      rcu: totals.readCapacity / n,
      ddbMs: reqs.reduce((s, r) => s + r.ms, 0) / n,
      retries: reqs.reduce((s, r) => s + r.attempts - 1, 0) / n,
      failed: count((r) => r.error !== undefined),
    },
    breakdown: [...groups.values()]
      .map((g) => ({
        perCall: g.n / n,
        what: `${g.req.op} [${g.req.items.join(' + ')}]${g.req.consistent ? ' consistent' : ''}${g.req.error ? ` refused (${g.req.error.replace(/Exception$/, '')})` : ''}`,
        site: g.req.site,
        req: g.req,
      }))
      .sort((a, b) => b.perCall - a.perCall),
  };
}

export interface Target {
  label: string;
  ok: boolean;
  detail: string;
}

/** Plain call ≤ 2 writes and no uncached reads (docs/operations.md, "The list index"); registry reads may only be cache refreshes. */
export function plainCallTargets(r: CostResult): Target[] {
  const p = r.perCall;
  const reads = r.breakdown.filter((b) => READ_OPS.has(b.req.op) && !b.req.items.every((k) => REGISTRY_KINDS.has(k)));
  return [
    {
      label: `${r.case.label}: ≤ 2 writes per call`,
      ok: p.writes <= 2 && r.errors === 0,
      detail: `${fixed(p.writes)} writes/call${r.errors ? `, ${r.errors} failed calls` : ''}`,
    },
    {
      label: `${r.case.label}: no uncached reads`,
      // A registry refresh every 5 s per service is the cache working; more than 1 in 10 calls is not.
      ok: p.hotReads === 0 && p.registryReads <= 0.1,
      detail: `${fixed(p.hotReads)} item reads/call, ${fixed(p.registryReads)} registry reads/call${reads.length ? ` (${reads.map((b) => `${b.what} at ${b.site}`).join('; ')})` : ''}`,
    },
  ];
}

/**
 * Reads beyond the minimum, given how many reads of each item kind the case needs: an unkeyed
 * call needs none (the accept write creates the invocation and a conditional write's ALL_OLD
 * reports a conflict); a keyed call one of its instance item (lock + state).
 */
export function excessReads(r: CostResult, needed: Record<string, number>): string[] {
  const out: string[] = [];
  const reads = r.breakdown.filter((b) => READ_OPS.has(b.req.op) && !b.req.items.every((k) => REGISTRY_KINDS.has(k)));
  const perKind = new Map<string, number>();
  for (const b of reads) for (const k of b.req.items) perKind.set(k, (perKind.get(k) ?? 0) + b.perCall);
  for (const [kind, n] of perKind) {
    const need = needed[kind] ?? 0;
    if (n > need + 0.01) {
      const sites = reads.filter((b) => b.req.items.includes(kind)).map((b) => `${fixed(b.perCall)}× ${b.site}`);
      out.push(`${r.case.label}: ${fixed(n)} reads/call of the ${kind} item where ${need} ${need === 1 ? 'is' : 'are'} needed: ${sites.join('; ')}`);
    }
  }
  return out;
}

export function printCost(results: CostResult[], skipped: CostCase[], warmup: number): string[] {
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  say(
    table(
      [
        'case',
        'calls',
        'req/call',
        'writes',
        'reads',
        'registry reads',
        'WCU',
        'of which GSI',
        'WCU on AWS',
        'RCU',
        'DDB ms',
        'requests per call by operation',
      ],
      results.map((r) => {
        const p = r.perCall;
        return [
          r.case.label,
          String(r.case.calls) + (r.errors ? ` (${r.errors} err)` : ''),
          fixed(p.requests),
          fixed(p.writes),
          fixed(p.reads),
          fixed(p.registryReads),
          fixed(p.wcu),
          fixed(p.wcuIndex),
          fixed(p.wcuAws),
          fixed(p.rcu),
          fixed(p.ddbMs, 1),
          Object.entries(p.byOp)
            .sort((a, b) => b[1] - a[1])
            .map(([op, k]) => `${op} ${fixed(k)}`)
            .join(', '),
        ];
      }),
    ),
  );
  for (const c of skipped) say(`  ${c.label}: not available (${c.unavailable})`);
  const odd = results.filter((r) => r.perCall.retries > 0 || r.perCall.failed > 0);
  for (const r of odd) say(`  ${r.case.label}: ${fixed(r.perCall.retries)} SDK retries/call, ${fixed(r.perCall.failed)} refused requests/call`);
  say();
  say(
    note(
      `Per call, averaged over the calls after ${warmup} warm-up calls of the same case, background work included. writes/reads = DynamoDB requests (a TransactWriteItems is one request, whatever its items). registry reads = reads of service/endpoint items by the resolver, whose cache lives 5 s (a read here is a refresh). WCU/RCU = capacity DynamoDB Local reported (ReturnConsumedCapacity=INDEXES), table and GSI; "WCU on AWS" doubles the table part of transactional writes, which AWS bills at 2 WCU per item and DynamoDB Local reports at 1. DDB ms = time spent waiting for DynamoDB Local per call (its requests run one after another).`,
    ),
  );
  say();
  say('  Where the requests come from (per call; store method ← caller):');
  for (const r of results) {
    say(`  ${r.case.label} — ${r.case.what}`);
    for (const b of r.breakdown) say(`    ${fixed(b.perCall).padStart(5)} × ${b.what.padEnd(48)} ${b.site}`);
  }
  return lines;
}
