/**
 * Sections 4–6: what each journal entry kind and each suspension/resume cycle costs, against the
 * purpose-built services of bench/bench-services.ts.
 *
 *   4. DynamoDB requests, capacity and endpoint round trips per entry kind (Δ to a baseline handler)
 *   5. N side effects, N = 0…16: round trips, replayed bytes, writes and latency as N grows
 *   6. local timers: time from a sleep's due time to the resumed attempt reaching the endpoint
 */
import { loadavg } from 'node:os';
import type { DynamoMetrics } from '../lib/store/metrics.js';
import type { TimerEvent } from '../lib/timers/timer-event.js';
import type { BenchServer } from './bench-services.js';
import { sleepProbes } from './bench-services.js';
import type { DynamoTrace } from './ddb-trace.js';
import { isSweep, measureRun, type CostCase, type CostResult } from './dynamo-cost.js';
import { fixed, median, note, percentile, table } from './format.js';
import { postJson, type CallResult } from './http.js';

export interface EntryEnv {
  base: string;
  metrics: DynamoMetrics;
  trace: DynamoTrace;
  server: BenchServer;
  /** Unique per run, for keys and tags. */
  run: string;
  /** The local runner's timer service (its `fire` is wrapped in section 6). */
  localTimers?: { fire: (event: TimerEvent) => Promise<unknown> };
}

export interface EntryCase extends CostCase {
  /** Which baseline the entry's cost is the difference to. */
  group: 'unkeyed' | 'keyed' | 'baseline-unkeyed' | 'baseline-keyed';
  /** Calls in flight at once (default 1), started `staggerMs` apart. */
  concurrency?: number;
  staggerMs?: number;
  warmup?: number;
  /** The expected answer body, to catch a handler that did not do what it should. */
  expect?: string;
  /** Count round trips per call (sequential calls whose invocations all end before the answer). */
  tripsPerCall?: boolean;
}

export interface EntryResult {
  cost: CostResult;
  /** Endpoint round trips (attempts) and request bytes per call, background invocations included. */
  roundTrips: number;
  bytes: number;
  maxBytes: number;
  ms: number[];
  firstError?: string;
  load: number;
  /** With `tripsPerCall`: how many calls made how many round trips. */
  tripHistogram?: Map<number, number>;
}

/** "17 calls × 2, 1 call × 3" when the calls did not all make the same number of round trips. */
export function unevenTrips(r: EntryResult): string | undefined {
  const h = r.tripHistogram;
  if (!h || h.size < 2) return undefined;
  return [...h]
    .sort((a, b) => a[0] - b[0])
    .map(([trips, n]) => `${n} call${n === 1 ? '' : 's'} × ${trips}`)
    .join(', ');
}

/** Reads per call by callers waiting for a result (the ingress polling a suspended or running call). */
export function waiterPolls(r: EntryResult): number {
  return r.cost.breakdown.filter((b) => b.site.includes('Dispatcher.waitForResult')).reduce((s, b) => s + b.perCall, 0);
}

/** Issues `n` calls, `concurrency` at a time, the first ones `staggerMs` apart. */
async function issue(
  n: number,
  concurrency: number,
  staggerMs: number,
  one: (i: number) => Promise<CallResult>,
  check: (r: CallResult) => string | undefined,
): Promise<{ ms: number[]; errors: number; firstError?: string }> {
  const ms: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const worker = async (w: number) => {
    if (staggerMs > 0) await new Promise((r) => setTimeout(r, w * staggerMs));
    for (;;) {
      const i = next++;
      if (i >= n) return;
      try {
        const res = await one(i);
        ms.push(res.ms);
        const bad = check(res);
        if (bad) {
          errors++;
          firstError ??= bad;
        }
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, (_, w) => worker(w)));
  return { ms, errors, firstError };
}

function checker(expect?: string) {
  return (r: CallResult): string | undefined => {
    if (r.status !== 200) return `${r.status} ${r.text.slice(0, 160)}`;
    if (expect !== undefined && !r.text.includes(expect)) return `unexpected answer ${r.text.slice(0, 160)}`;
    return undefined;
  };
}

export async function measureEntry(env: EntryEnv, c: EntryCase): Promise<EntryResult> {
  const hist = new Map<number, number>();
  const one = async (i: number) => {
    const before = env.server.stats.calls;
    const res = await postJson(env.base + c.path, c.body(i), c.headers?.(i) ?? {});
    const trips = env.server.stats.calls - before;
    if (i >= 0) hist.set(trips, (hist.get(trips) ?? 0) + 1);
    return res;
  };
  await issue(c.warmup ?? 3, c.concurrency ?? 1, c.staggerMs ?? 0, (i) => one(-1 - i), checker(c.expect));
  let calls: { ms: number[]; errors: number; firstError?: string } = { ms: [], errors: 0 };
  const cost = await measureRun(
    c,
    env.metrics,
    env.trace,
    async () => {
      env.server.stats.reset();
      calls = await issue(c.calls, c.concurrency ?? 1, c.staggerMs ?? 0, one, checker(c.expect));
      return calls.errors;
    },
    isSweep,
  );
  const s = env.server.stats;
  return {
    cost,
    roundTrips: s.calls / c.calls,
    bytes: s.bytes / c.calls,
    maxBytes: s.maxBytes,
    ms: calls.ms,
    firstError: calls.firstError,
    load: loadavg()[0]!,
    tripHistogram: c.tripsPerCall && (c.concurrency ?? 1) === 1 ? hist : undefined,
  };
}

/** Warms the JIT of this process and of DynamoDB Local on the bench services' paths (when sections 1–2 did not run). */
export async function warmUp(env: EntryEnv, calls: number): Promise<void> {
  for (let i = 0; i < calls; i++) {
    await postJson(`${env.base}/benchEntries/effects`, { request: { n: i % 3 } });
    await postJson(`${env.base}/benchState/getSet`, { key: `warm-${env.run}`, request: {} });
  }
}

// ---- 4. per entry kind ---------------------------------------------------------------------------

export const LONG_SLEEP_MS = 2_500;
const SHORT_SLEEP_MS = 50;
const SEND_DELAY_MS = 100;

export function entryCases(run: string, calls: number): EntryCase[] {
  const slow = Math.max(2, Math.round(calls * 0.6));
  const u = (id: string, label: string, what: string, method: string, request: unknown, extra: Partial<EntryCase> = {}): EntryCase => ({
    id,
    label,
    what,
    group: 'unkeyed',
    path: `/benchEntries/${method}`,
    body: () => ({ request }),
    calls,
    ...extra,
  });
  const k = (id: string, label: string, what: string, method: string, extra: Partial<EntryCase> = {}): EntryCase => ({
    id,
    label,
    what,
    group: 'keyed',
    path: `/benchState/${method}`,
    body: () => ({ key: `state-${run}`, request: {} }),
    calls,
    ...extra,
  });
  return [
    u('u-base', 'unkeyed baseline (no entry)', 'accept write + completion write', 'baseline', {}, { group: 'baseline-unkeyed' }),
    u('effect1', '1 side effect', 'SideEffect entry (REQUIRES_ACK): a suspension resumable at once', 'effects', { n: 1 }, { tripsPerCall: true }),
    u(
      'sleep-short',
      `sleep ${SHORT_SLEEP_MS} ms (waited inline)`,
      'Sleep entry ≤ 2 s: the driver waits in process',
      'sleep',
      { ms: SHORT_SLEEP_MS },
      { calls: slow, tripsPerCall: true },
    ),
    u(
      'sleep-long',
      `sleep ${LONG_SLEEP_MS} ms (timer)`,
      'Sleep entry > 2 s: suspended, woken by a timer',
      'sleep',
      { ms: LONG_SLEEP_MS },
      { calls: 4, concurrency: 4, staggerMs: 150, warmup: 0 },
    ),
    u('call', 'call benchTarget/echo', 'Invoke entry: the child runs, its result completes the entry', 'call', {}, { expect: 'called' }),
    u('send', 'one-way send to benchTarget/echo', 'BackgroundInvoke entry: a child invocation, nobody waits', 'send', {}),
    u(
      'send-delayed',
      `delayed send (${SEND_DELAY_MS} ms)`,
      'BackgroundInvoke with invoke time: a delayed child and its timer',
      'sendDelayed',
      { ms: SEND_DELAY_MS },
      { calls: slow },
    ),
    u(
      'awakeable',
      'awakeable resolved by benchResolver',
      'Awakeable + a send to benchResolver, whose CompleteAwakeable completes it',
      'awakeable',
      {},
      { calls: slow, expect: 'woken' },
    ),
    k('k-base', 'keyed baseline (no entry)', 'inbox + lock, lock hand-over', 'baseline', { group: 'baseline-keyed' }),
    k('get', 'keyed: get', 'GetState (answered by the SDK from the eager state)', 'get'),
    k('set', 'keyed: set', 'SetState', 'set'),
    k('get-set', 'keyed: get + set', 'GetState + SetState', 'getSet'),
    k('state-keys', 'keyed: stateKeys', 'GetStateKeys', 'stateKeys'),
    k('clear', 'keyed: clear', 'ClearState', 'clear'),
    k('clear-all', 'keyed: clearAll', 'ClearAllState', 'clearAll'),
  ];
}

function deltaLines(r: EntryResult, base: EntryResult): string[] {
  const keyOf = (b: CostResult['breakdown'][number]) => `${b.what.padEnd(44)} ${b.site}`;
  const mine = new Map<string, number>();
  const theirs = new Map<string, number>();
  for (const b of r.cost.breakdown) mine.set(keyOf(b), (mine.get(keyOf(b)) ?? 0) + b.perCall);
  for (const b of base.cost.breakdown) theirs.set(keyOf(b), (theirs.get(keyOf(b)) ?? 0) + b.perCall);
  const out: [number, string][] = [];
  for (const k of new Set([...mine.keys(), ...theirs.keys()])) {
    const d = (mine.get(k) ?? 0) - (theirs.get(k) ?? 0);
    const local = k.includes('[timer]') ? '  (local runner only: EventBridge Scheduler on AWS)' : '';
    if (Math.abs(d) >= 0.05) out.push([d, `    ${((d > 0 ? '+' : '') + fixed(d)).padStart(6)} × ${k}${local}`]);
  }
  return out.sort((a, b) => b[0] - a[0]).map(([, line]) => line);
}

function baseOf(results: Map<string, EntryResult>, c: EntryCase): EntryResult | undefined {
  return results.get(c.group === 'keyed' ? 'k-base' : 'u-base');
}

export function printEntries(results: Map<string, EntryResult>, cases: EntryCase[]): string[] {
  const lines: string[] = [];
  const rows: string[][] = [];
  for (const c of cases) {
    const r = results.get(c.id);
    if (!r) continue;
    const p = r.cost.perCall;
    const b = c.group === 'keyed' || c.group === 'unkeyed' ? baseOf(results, c) : undefined;
    const d = (f: (x: EntryResult) => number) => (b ? (f(r) - f(b) >= 0 ? '+' : '') + fixed(f(r) - f(b)) : '');
    rows.push([
      c.label,
      String(c.calls) + (r.cost.errors ? ` (${r.cost.errors} err)` : ''),
      fixed(r.roundTrips),
      fixed(r.bytes, 0),
      fixed(p.writes),
      fixed(p.reads),
      fixed(waiterPolls(r)),
      fixed(p.wcu),
      fixed(p.wcuIndex),
      fixed(p.wcuAws),
      fixed(p.rcu),
      d((x) => x.roundTrips),
      d((x) => x.cost.perCall.writes),
      d((x) => x.cost.perCall.reads),
      d((x) => x.cost.perCall.wcuAws),
      d((x) => x.cost.perCall.rcu),
      fixed(median(r.ms), 1),
    ]);
  }
  lines.push(
    table(
      [
        'case',
        'calls',
        'round trips',
        'req bytes',
        'writes',
        'reads',
        'of which polls',
        'WCU',
        'of which GSI',
        'WCU on AWS',
        'RCU',
        'Δ trips',
        'Δ writes',
        'Δ reads',
        'Δ WCU AWS',
        'Δ RCU',
        'p50 ms',
      ],
      rows,
    ),
  );
  for (const c of cases) {
    const r = results.get(c.id);
    if (r?.firstError) lines.push(`  ${c.label}: first error: ${r.firstError}`);
    const uneven = r && unevenTrips(r);
    if (uneven) lines.push(`  ${c.label}: not every call made the same number of round trips: ${uneven}`);
    if (r && (r.cost.perCall.retries > 0 || r.cost.perCall.failed > 0))
      lines.push(`  ${c.label}: ${fixed(r.cost.perCall.retries)} SDK retries/call, ${fixed(r.cost.perCall.failed)} refused requests/call`);
  }
  const swept = cases.map((c) => results.get(c.id)?.cost.excluded ?? 0).reduce((a, b) => a + b, 0);
  if (swept) lines.push(`  (left out: ${swept} index queries of the runner's periodic sweep, 16 a minute whatever the traffic)`);
  lines.push('');
  lines.push(
    note(
      'Per call (the handler\'s invocation plus every invocation it causes: the callee of a call or send, benchResolver for the awakeable), after warm-up calls of the same case, background work included. round trips = requests the endpoint received (one per attempt in request/response mode), req bytes = their bodies (Start + replayed journal). Δ = difference to the baseline handler of the same kind (unkeyed or keyed), i.e. what the entry costs. of which polls = reads by the ingress waiting for the result (Dispatcher.waitForResult polls the invocation item every 20 ms, doubling up to 1 s, even when the in-process notification comes first). Columns as in section 1; "WCU on AWS" doubles the table part of transactional writes. A refused conditional write consumes capacity on AWS too, but DynamoDB Local does not report it. p50 = client latency of the call.',
    ),
  );
  lines.push('');
  lines.push('  What each entry kind adds to its baseline (requests per call; store method ← caller):');
  for (const c of cases) {
    const r = results.get(c.id);
    const b = r ? baseOf(results, c) : undefined;
    if (!r || !b || (c.group !== 'keyed' && c.group !== 'unkeyed')) continue;
    const dl = deltaLines(r, b);
    lines.push(`  ${c.label} — ${c.what}${dl.length ? '' : ': nothing'}`);
    lines.push(...dl);
  }
  lines.push('  Baselines, for reference:');
  for (const id of ['u-base', 'k-base']) {
    const r = results.get(id);
    if (!r) continue;
    lines.push(`  ${r.cost.case.label} — ${r.cost.case.what}`);
    for (const b of r.cost.breakdown) lines.push(`    ${fixed(b.perCall).padStart(5)} × ${b.what.padEnd(44)} ${b.site}`);
  }
  return lines;
}

/** Per suspension/resume cycle, derived from the entry costs (differences of measured rows). */
export function printCycles(results: Map<string, EntryResult>, effects?: EffectsResult[]): string[] {
  const g = (id: string) => results.get(id);
  const rows: {
    label: string;
    formula: string;
    v?: { trips: number; writes: number; reads: number; polls: number; wcuAws: number; rcu: number; ms: number };
  }[] = [];
  const diff = (a?: EntryResult, b?: EntryResult, scale = 1) =>
    a && b
      ? {
          trips: (a.roundTrips - b.roundTrips) / scale,
          writes: (a.cost.perCall.writes - b.cost.perCall.writes) / scale,
          reads: (a.cost.perCall.reads - b.cost.perCall.reads) / scale,
          polls: (waiterPolls(a) - waiterPolls(b)) / scale,
          wcuAws: (a.cost.perCall.wcuAws - b.cost.perCall.wcuAws) / scale,
          rcu: (a.cost.perCall.rcu - b.cost.perCall.rcu) / scale,
          ms: (median(a.ms) - median(b.ms)) / scale,
        }
      : undefined;
  const e0 = effects?.find((e) => e.n === 0);
  const eMax = effects?.at(-1);
  rows.push({ label: 'resumable at once (side effect ack)', formula: '1 side effect − baseline', v: diff(g('effect1'), g('u-base')) });
  if (e0 && eMax && eMax.n > 0)
    rows.push({
      label: `  same, mean over ${eMax.n} side effects`,
      formula: `(N=${eMax.n} − N=0) / ${eMax.n}, section 5`,
      v: diff(eMax.entry, e0.entry, eMax.n),
    });
  rows.push({ label: 'sleep waited inline (≤ 2 s)', formula: `sleep ${SHORT_SLEEP_MS} ms − baseline`, v: diff(g('sleep-short'), g('u-base')) });
  rows.push({ label: 'suspended, woken by a timer', formula: `sleep ${LONG_SLEEP_MS} ms − baseline`, v: diff(g('sleep-long'), g('u-base')) });
  rows.push({ label: 'suspended, woken by a child result', formula: 'call − one-way send', v: diff(g('call'), g('send')) });
  rows.push({ label: 'suspended, woken by CompleteAwakeable', formula: 'awakeable − one-way send', v: diff(g('awakeable'), g('send')) });
  return [
    table(
      ['cycle', 'derived as', 'round trips', 'writes', 'reads', 'of which polls', 'WCU on AWS', 'RCU', 'Δ p50 ms'],
      rows
        .filter((r) => r.v)
        .map((r) => [
          r.label,
          r.formula,
          fixed(r.v!.trips),
          fixed(r.v!.writes),
          fixed(r.v!.reads),
          fixed(r.v!.polls),
          fixed(r.v!.wcuAws),
          fixed(r.v!.rcu),
          fixed(r.v!.ms, 1),
        ]),
    ),
  ];
}

// ---- 5. N side effects -------------------------------------------------------------------------

export interface EffectsResult {
  n: number;
  entry: EntryResult;
}

export async function measureEffects(env: EntryEnv, ns: number[], calls: number): Promise<EffectsResult[]> {
  const out: EffectsResult[] = [];
  for (const n of ns) {
    const c: EntryCase = {
      id: `effects-${n}`,
      label: `${n} side effects`,
      what: '',
      group: 'unkeyed',
      path: '/benchEntries/effects',
      body: () => ({ request: { n } }),
      calls,
      warmup: 2,
      expect: String((n * (n - 1)) / 2),
      tripsPerCall: true,
    };
    out.push({ n, entry: await measureEntry(env, c) });
  }
  return out;
}

export function printEffects(results: EffectsResult[]): string[] {
  const rows = results.map(({ n, entry: r }) => {
    const p = r.cost.perCall;
    return [
      String(n),
      String(r.cost.case.calls) + (r.cost.errors ? ` (${r.cost.errors} err)` : ''),
      fixed(r.roundTrips),
      fixed(r.bytes, 0),
      String(r.maxBytes),
      fixed(p.writes),
      fixed(p.reads),
      fixed(p.wcu),
      fixed(p.wcuAws),
      fixed(p.ddbMs, 1),
      fixed(median(r.ms), 1),
      fixed(percentile(r.ms, 99), 1),
      fixed(r.load, 1),
    ];
  });
  const lines = [
    table(['N', 'calls', 'round trips', 'req bytes total', 'largest req', 'writes', 'reads', 'WCU', 'WCU on AWS', 'DDB ms', 'p50 ms', 'p99 ms', 'load'], rows),
  ];
  for (const { entry: r } of results) if (r.firstError) lines.push(`  ${r.cost.case.label}: first error: ${r.firstError}`);
  for (const { entry: r } of results) {
    const uneven = unevenTrips(r);
    if (uneven) lines.push(`  ${r.cost.case.label}: not every call made the same number of round trips: ${uneven}`);
  }
  const a = results.at(-2);
  const b = results.at(-1);
  if (a && b && b.n > a.n) {
    const k = b.n - a.n;
    const per = (f: (x: EntryResult) => number) => fixed((f(b.entry) - f(a.entry)) / k, 1);
    lines.push(
      `  per added side effect between N=${a.n} and N=${b.n}: ${per((x) => x.roundTrips)} round trips, ${per((x) => x.bytes)} request bytes, ${per((x) => x.cost.perCall.writes)} writes, ${per((x) => x.cost.perCall.wcuAws)} WCU on AWS, ${per((x) => median(x.ms))} ms`,
    );
  }
  return lines;
}

// ---- 6. timer → resumption ---------------------------------------------------------------------

export interface ResumeSample {
  tag: string;
  id: string;
  dueMs: number;
  /** When the local timer fired (the timer item's due time from the event). */
  firedAt?: number;
  timerDue?: number;
  /** When the code after the sleep ran in the endpoint (the resumed attempt arrived). */
  resumedAt?: number;
  clientMs: number;
  status: number;
}

export interface ResumeResult {
  samples: ResumeSample[];
  sleepMs: number;
  roundTrips: number;
  timerEvents: number;
  load: number;
}

export async function measureResume(env: EntryEnv, samples: number, sleepMs: number, staggerMs: number): Promise<ResumeResult> {
  const fired = new Map<string, { at: number; due: number }[]>();
  let timerEvents = 0;
  const lt = env.localTimers;
  const original = lt?.fire;
  if (lt && original) {
    lt.fire = (event: TimerEvent) => {
      if (event.kind === 'timer' && event.reason === 'sleep') {
        timerEvents++;
        const list = fired.get(event.invocationId) ?? [];
        list.push({ at: Date.now(), due: event.dueMs });
        fired.set(event.invocationId, list);
      }
      return original(event);
    };
  }
  const out: ResumeSample[] = [];
  env.server.stats.reset();
  try {
    await Promise.all(
      Array.from({ length: samples }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * staggerMs));
        const tag = `resume-${env.run}-${i}`;
        const res = await postJson(`${env.base}/benchEntries/sleep`, { request: { ms: sleepMs, tag } });
        const probe = sleepProbes.get(tag);
        const id = res.headers.get('x-restate-id') ?? '';
        const f = fired.get(id)?.[0];
        out.push({ tag, id, dueMs: probe?.due ?? NaN, firedAt: f?.at, timerDue: f?.due, resumedAt: probe?.resumedAt, clientMs: res.ms, status: res.status });
      }),
    );
  } finally {
    if (lt && original) lt.fire = original;
  }
  return { samples: out, sleepMs, roundTrips: env.server.stats.calls / samples, timerEvents, load: loadavg()[0]! };
}

export function printResume(r: ResumeResult): string[] {
  const ok = r.samples.filter((s) => s.status === 200 && s.resumedAt !== undefined);
  const lag = ok.map((s) => s.resumedAt! - s.dueMs);
  const timerLate = ok.filter((s) => s.firedAt !== undefined).map((s) => s.firedAt! - (s.timerDue ?? s.dueMs));
  const fireToEndpoint = ok.filter((s) => s.firedAt !== undefined).map((s) => s.resumedAt! - s.firedAt!);
  const clientOver = ok.map((s) => s.clientMs - r.sleepMs);
  const row = (label: string, xs: number[]) => [label, String(xs.length), fixed(median(xs), 1), fixed(Math.max(...xs), 1), fixed(Math.min(...xs), 1)];
  const lines = [
    table(
      ['interval', 'samples', 'median ms', 'max ms', 'min ms'],
      [
        row('due → timer fired (setTimeout lateness)', timerLate),
        row('timer fired → endpoint runs the code after the sleep', fireToEndpoint),
        row('due → endpoint resumed (total)', lag),
        row('client latency − sleep duration', clientOver),
      ],
    ),
  ];
  const failed = r.samples.filter((s) => s.status !== 200 || s.resumedAt === undefined);
  if (failed.length) lines.push(`  ${failed.length} sample(s) failed or never resumed: ${failed.map((s) => `${s.tag} ${s.status}`).join(', ')}`);
  lines.push(
    `  endpoint round trips per sample: ${fixed(r.roundTrips)} (2 = the first attempt + the resumed one); sleep timer deliveries: ${r.timerEvents} for ${r.samples.length} samples; load ${fixed(r.load, 1)}`,
  );
  return lines;
}
