/**
 * Section 7: idempotency keys. DynamoDB requests and capacity of a new idempotent call, a duplicate
 * hit (the call finished), a duplicate that attaches while the first still runs, and
 * `dev.restate.Ingress/Invoke` with and without a key; latency of a duplicate hit.
 */
import { loadavg } from 'node:os';
import { measureEntry, type EntryCase, type EntryEnv, type EntryResult } from './entries.js';
import { isSweep, measureRun } from './dynamo-cost.js';
import { fixed, median, note, percentile, table } from './format.js';
import { postJson } from './http.js';

export const SLOW_MS = 300;
export const DUPLICATE_AFTER_MS = 50;

export interface AttachResult {
  single: EntryResult;
  pairs: EntryResult;
  /** Per pair: the duplicate's latency, and how long after the first call's answer it got its own. */
  dupMs: number[];
  dupAfterFirstMs: number[];
  sameAnswer: number;
}

export interface LatencyRow {
  label: string;
  ms: number[];
  errors: number;
  load: number;
}

export interface IdempotencyResult {
  rows: { label: string; what: string; r: EntryResult }[];
  attach?: AttachResult;
  latency: LatencyRow[];
}

function greetCase(id: string, label: string, what: string, headers: ((i: number) => Record<string, string>) | undefined, calls: number): EntryCase {
  return { id, label, what, group: 'unkeyed', path: '/greeter/greet', body: () => ({ request: { name: 'idem' } }), headers, calls, warmup: 3 };
}

function invokeCase(id: string, label: string, what: string, headers: ((i: number) => Record<string, string>) | undefined, calls: number): EntryCase {
  return {
    id,
    label,
    what,
    group: 'unkeyed',
    path: '/dev.restate.Ingress/Invoke',
    body: () => ({ service: 'benchTarget', method: 'echo', argument: { request: { v: 'invoke' } } }),
    headers,
    calls,
    warmup: 3,
  };
}

async function attach(env: EntryEnv, pairs: number): Promise<AttachResult> {
  const key = (tag: string) => (i: number) => ({ 'idempotency-key': `${env.run}-${tag}-${i}` });
  const slowCase = (id: string, label: string, tag: string): EntryCase => ({
    id,
    label,
    what: '',
    group: 'unkeyed',
    path: '/benchEntries/slow',
    body: () => ({ request: { ms: SLOW_MS } }),
    headers: key(tag),
    calls: pairs,
    warmup: 1,
    expect: 'slow done',
  });
  const single = await measureEntry(env, slowCase('slow-single', `slow ${SLOW_MS} ms + key, alone`, 'single'));
  const c = slowCase('slow-pair', `slow ${SLOW_MS} ms + key, and a duplicate ${DUPLICATE_AFTER_MS} ms later`, 'pair');
  const dupMs: number[] = [];
  const dupAfterFirstMs: number[] = [];
  let sameAnswer = 0;
  let firstError: string | undefined;
  const cost = await measureRun(
    c,
    env.metrics,
    env.trace,
    async () => {
      env.server.stats.reset();
      let errors = 0;
      for (let i = 0; i < pairs; i++) {
        const headers = c.headers!(i);
        const first = postJson(env.base + c.path, c.body(i), headers).then((r) => ({ ...r, end: performance.now() }));
        await new Promise((r) => setTimeout(r, DUPLICATE_AFTER_MS));
        const dup = await postJson(env.base + c.path, c.body(i), headers).then((r) => ({ ...r, end: performance.now() }));
        const a = await first;
        if (a.status !== 200 || dup.status !== 200) {
          errors++;
          firstError ??= `${a.status}/${dup.status} ${dup.text.slice(0, 160)}`;
          continue;
        }
        dupMs.push(dup.ms);
        dupAfterFirstMs.push(dup.end - a.end);
        if (a.headers.get('x-restate-id') === dup.headers.get('x-restate-id') && a.text === dup.text) sameAnswer++;
      }
      return errors;
    },
    isSweep,
  );
  const pairsResult: EntryResult = {
    cost,
    roundTrips: env.server.stats.calls / pairs,
    bytes: env.server.stats.bytes / pairs,
    maxBytes: env.server.stats.maxBytes,
    ms: dupMs,
    firstError,
    load: loadavg()[0]!,
  };
  return { single, pairs: pairsResult, dupMs, dupAfterFirstMs, sameAnswer };
}

async function latencyRow(env: EntryEnv, label: string, calls: number, headers: (i: number) => Record<string, string>): Promise<LatencyRow> {
  const ms: number[] = [];
  let errors = 0;
  for (let i = 0; i < calls; i++) {
    const res = await postJson(`${env.base}/greeter/greet`, { request: { name: 'idem' } }, headers(i));
    ms.push(res.ms);
    if (res.status !== 200) errors++;
  }
  return { label, ms, errors, load: loadavg()[0]! };
}

export async function measureIdempotency(env: EntryEnv, calls: number, pairs: number, latencyCalls: number): Promise<IdempotencyResult> {
  const key = (tag: string) => (i: number) => ({ 'idempotency-key': `${env.run}-${tag}-${i}` });
  const rows: IdempotencyResult['rows'] = [];
  const add = async (c: EntryCase) => rows.push({ label: c.label, what: c.what, r: await measureEntry(env, c) });
  await add(greetCase('greet-plain', 'greeter/greet, no key', 'reference: accept write + completion write', undefined, calls));
  await add(greetCase('greet-first', 'greeter/greet + key, new', 'new idempotent call', key('greet'), calls));
  await add(greetCase('greet-dup', 'greeter/greet + key, duplicate hit', 'the same keys again: the call finished', key('greet'), calls));
  const att = await attach(env, pairs);
  await add(invokeCase('invoke-plain', 'Ingress/Invoke → benchTarget, no key', 'one-way call + the run it starts', undefined, calls));
  await add(invokeCase('invoke-first', 'Ingress/Invoke + key, new', 'one-way call with a new key + the run it starts', key('invoke'), calls));
  await add(invokeCase('invoke-dup', 'Ingress/Invoke + key, duplicate', 'the same keys again', key('invoke'), calls));
  // Latency: one finished idempotent call, repeated; a plain call and new keys for comparison.
  await postJson(`${env.base}/greeter/greet`, { request: { name: 'idem' } }, { 'idempotency-key': `${env.run}-hit` });
  const latency = [
    await latencyRow(env, 'duplicate hit (one finished key, repeated)', latencyCalls, () => ({ 'idempotency-key': `${env.run}-hit` })),
    await latencyRow(env, 'new idempotent call (a new key each)', latencyCalls, key('lat-new')),
    await latencyRow(env, 'plain call, no key', latencyCalls, () => ({})),
  ];
  return { rows, attach: att, latency };
}

function costRow(label: string, r: EntryResult): string[] {
  const p = r.cost.perCall;
  return [
    label,
    String(r.cost.case.calls) + (r.cost.errors ? ` (${r.cost.errors} err)` : ''),
    fixed(p.writes),
    fixed(p.reads),
    fixed(p.failed),
    fixed(p.wcu),
    fixed(p.wcuAws),
    fixed(p.rcu),
    fixed(r.roundTrips),
    fixed(p.ddbMs, 1),
    Object.entries(p.byOp)
      .sort((a, b) => b[1] - a[1])
      .map(([op, k]) => `${op} ${fixed(k)}`)
      .join(', '),
  ];
}

function diffRow(label: string, a: EntryResult, b: EntryResult): string[] {
  const p = a.cost.perCall;
  const q = b.cost.perCall;
  const ops = new Set([...Object.keys(p.byOp), ...Object.keys(q.byOp)]);
  const byOp = [...ops]
    .map((op) => [op, (p.byOp[op] ?? 0) - (q.byOp[op] ?? 0)] as const)
    .filter(([, d]) => Math.abs(d) >= 0.01)
    .sort((x, y) => y[1] - x[1]);
  return [
    label,
    String(a.cost.case.calls),
    fixed(p.writes - q.writes),
    fixed(p.reads - q.reads),
    fixed(p.failed - q.failed),
    fixed(p.wcu - q.wcu),
    fixed(p.wcuAws - q.wcuAws),
    fixed(p.rcu - q.rcu),
    fixed(a.roundTrips - b.roundTrips),
    fixed(p.ddbMs - q.ddbMs, 1),
    byOp.map(([op, d]) => `${op} ${d > 0 ? '+' : ''}${fixed(d)}`).join(', '),
  ];
}

export function printIdempotency(res: IdempotencyResult): string[] {
  const lines: string[] = [];
  const rows = res.rows.map((r) => costRow(r.label, r.r));
  const a = res.attach;
  if (a) {
    rows.splice(
      3,
      0,
      costRow(a.single.cost.case.label, a.single),
      costRow(`${a.pairs.cost.case.label} (per pair)`, a.pairs),
      diffRow('⇒ duplicate attached while in flight', a.pairs, a.single),
    );
  }
  lines.push(
    table(['case', 'calls', 'writes', 'reads', 'refused', 'WCU', 'WCU on AWS', 'RCU', 'round trips', 'DDB ms', 'requests per call by operation'], rows),
  );
  for (const r of [...res.rows.map((x) => x.r), ...(a ? [a.single, a.pairs] : [])])
    if (r.firstError) lines.push(`  ${r.cost.case.label}: first error: ${r.firstError}`);
  if (a) {
    lines.push(
      `  duplicates in flight: ${a.sameAnswer}/${a.pairs.cost.case.calls} got the first call's id and answer; duplicate latency p50 ${fixed(median(a.dupMs), 1)} ms (max ${fixed(Math.max(...a.dupMs), 1)}), its answer ended ${fixed(median(a.dupAfterFirstMs), 1)} ms after the first call's (median, negative = before; max ${fixed(Math.max(...a.dupAfterFirstMs), 1)}): both are woken by the same in-process notification`,
    );
  }
  lines.push('');
  lines.push('  Where the requests come from (per call; store method ← caller):');
  const detail = [
    ...res.rows.filter((r) => r.label.includes('key')).map((r) => [r.label, r.r] as const),
    ...(a ? [[`${a.pairs.cost.case.label} (per pair)`, a.pairs] as const] : []),
  ];
  for (const [label, r] of detail) {
    lines.push(`  ${label}`);
    for (const b of r.cost.breakdown) lines.push(`    ${fixed(b.perCall).padStart(5)} × ${b.what.padEnd(48)} ${b.site}`);
  }
  lines.push('');
  lines.push(
    table(
      ['latency at concurrency 1 (greeter/greet)', 'calls', 'errors', 'p50 ms', 'p99 ms', 'max ms', 'mean ms', 'load'],
      res.latency.map((l) => [
        l.label,
        String(l.ms.length),
        String(l.errors),
        fixed(percentile(l.ms, 50), 1),
        fixed(percentile(l.ms, 99), 1),
        fixed(Math.max(...l.ms), 1),
        fixed(l.ms.reduce((s, x) => s + x, 0) / l.ms.length, 1),
        fixed(l.load, 1),
      ]),
    ),
  );
  lines.push('');
  lines.push(
    note(
      `Per call, background work included (the Invoke rows include the run each one starts; the duplicate Invoke starts none). refused = conditional writes DynamoDB refused (AWS bills them: 1 WCU per KB of the item; DynamoDB Local does not report their capacity, so WCU leaves them out). "duplicate attached while in flight" = a pair (a call to benchEntries/slow, which takes ${SLOW_MS} ms without a journal entry, and the same call with the same key ${DUPLICATE_AFTER_MS} ms later) minus the same call alone. Latency: client-side, fetch start to last body byte, after the key's first call finished.`,
    ),
  );
  return lines;
}
