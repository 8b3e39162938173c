/**
 * `npm run bench`: the numbers behind docs/architecture.md and docs/operations.md, printed with a note on what each means.
 *
 *   1. DynamoDB requests and capacity per invocation kind (DynamoDB Local, warm caches)
 *   2. latency p50/p99 and throughput of the local stack at concurrency 1 and 16
 *   3. Lambda bundle sizes and module init time
 *   4. DynamoDB requests, capacity and endpoint round trips per journal entry kind (own SDK services)
 *   5. N side effects: round trips, replayed bytes, writes and latency as N grows
 *   6. local timers: from a sleep's due time to the resumed attempt
 *   7. idempotency keys: new call, duplicate hit, duplicate attached in flight, Invoke; hit latency
 * (4–7 run against the local stack after section 2, before the stack stops and section 3 runs.)
 *
 * Options: --only cost,latency,bundles,entries,effects,resume,idempotency
 *          --cost-calls N (50)   --calls N (300, section 2)   --entry-calls N (30, sections 4 and 7)
 *          --effects-calls N (20, section 5)   --resume-samples N (5, section 6)
 *          --keep-bundles (leave bench/.out; `npm run lint` would then lint the bundles)
 * See bench/README.md.
 */
import { sdkLog } from './env.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, freemem, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocal, type LocalRunner } from '../lib/local/runner.js';
import { bundlingDrift, measureBundles, medianOf, type BundleResult, type SdkBaseline } from './bundles.js';
import { traceDynamo } from './ddb-trace.js';
import { excessReads, measureCase, plainCallTargets, printCost, settle, type CostCase, type CostResult, type Target } from './dynamo-cost.js';
import { fixed, note, table, verdict } from './format.js';
import { postJson, isUnavailable } from './http.js';
import { printLoad, runLoad, type LoadResult, type LoadScenario } from './latency.js';
import { startBenchServer, type BenchServer } from './bench-services.js';
import {
  entryCases,
  LONG_SLEEP_MS,
  warmUp,
  measureEffects,
  measureEntry,
  measureResume,
  printCycles,
  printEffects,
  printEntries,
  printResume,
  type EffectsResult,
  type EntryEnv,
  type EntryResult,
} from './entries.js';
import { DUPLICATE_AFTER_MS, measureIdempotency, printIdempotency, SLOW_MS } from './idempotency.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const INGRESS_BUNDLE_LIMIT_KB = 400;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    calls: { type: 'string' },
    'cost-calls': { type: 'string' },
    'entry-calls': { type: 'string' },
    'effects-calls': { type: 'string' },
    'resume-samples': { type: 'string' },
    'keep-bundles': { type: 'boolean' },
  },
});
const ALL_SECTIONS = ['cost', 'latency', 'bundles', 'entries', 'effects', 'resume', 'idempotency'];
const sections = new Set((args.only ?? ALL_SECTIONS.join(',')).split(',').map((s) => s.trim()));
for (const s of sections) if (!ALL_SECTIONS.includes(s)) throw new Error(`unknown section '${s}' (sections: ${ALL_SECTIONS.join(', ')})`);
/** Sections 4–7 run against the purpose-built services of bench/bench-services.ts. */
const OWN_SERVICE_SECTIONS = ['entries', 'effects', 'resume', 'idempotency'];
const LOCAL_SECTIONS = ['cost', 'latency', ...OWN_SERVICE_SECTIONS];
const loadCalls = Number(args.calls ?? 300);
const costCalls = Number(args['cost-calls'] ?? 50);
const entryCalls = Number(args['entry-calls'] ?? 30);
const effectsCalls = Number(args['effects-calls'] ?? 20);
const resumeSamples = Number(args['resume-samples'] ?? 5);
const EFFECT_COUNTS = [0, 1, 2, 4, 8, 16];
const COST_WARMUP = 5;
const LOAD_WARMUP = 20;
/** A row stops issuing new calls after this long, so a loaded machine cannot stretch the run past ~3 minutes. */
const LOAD_ROW_LIMIT_S = 20;

const out = (s = '') => console.log(s);
const targets: Target[] = [];
const findings: string[] = [];

function git(...a: string[]): string {
  try {
    return execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

function header(): void {
  const cpu = cpus();
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'lib', 'functions', 'examples').split('\n').filter(Boolean).length;
  out(`Restless benchmark — ${new Date().toISOString()}`);
  out(
    `machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} free), ${type()} ${release()}, node ${process.version}`,
  );
  out(
    `load average: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (1/5/15 min; anything else running on these ${cpu.length} cores skews latency and init times)`,
  );
  out(`code: ${git('rev-parse', '--short', 'HEAD')}${dirty ? ` + ${dirty} uncommitted change(s) in lib/ functions/ examples/` : ''}`);
}

// ---- 1 + 2: against the local stack -----------------------------------------------------------

async function localSections(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'restless-bench-'));
  let runner: LocalRunner | undefined;
  let benchServer: BenchServer | undefined;
  try {
    const started = performance.now();
    // As `npm start`: DynamoDB Local, ingress/admin fronts, the example endpoint over h2c; all ports free ones.
    runner = await startLocal({ ingressPort: 0, adminPort: 0, dynamoPort: 0, examplePort: 0, dataDir, register: [], host: '127.0.0.1' });
    out(
      `local stack up in ${fixed((performance.now() - started) / 1000, 1)} s (ingress ${runner.ingressUrl}, DynamoDB Local ${runner.dynamoEndpoint}, data in ${dataDir})`,
    );
    // The runner built the process-wide runtime; instrument its DynamoDB client.
    const { sharedRuntime } = await import('../lib/runtime.js');
    const { instrumentDynamo } = await import('../lib/store/metrics.js');
    const doc = sharedRuntime().tables.doc;
    const metrics = instrumentDynamo(doc);
    const trace = traceDynamo(doc, ROOT);
    const base = runner.ingressUrl;
    const run = Date.now().toString(36);

    if (sections.has('cost')) {
      out();
      out('== 1. DynamoDB requests and consumed capacity per invocation ==');
      const plain = (label: string, path: string, body: (i: number) => unknown): CostCase => ({
        id: label,
        label,
        what: 'plain unary call, unkeyed: accept write + completion write',
        path,
        body,
        calls: costCalls,
      });
      const cases: CostCase[] = [
        plain('greet, protobuf service (org.example.Greeter/Greet)', '/org.example.Greeter/Greet', (i) => ({ name: `bench ${i}` })),
        plain('greet, router (greeter/greet)', '/greeter/greet', (i) => ({ request: { name: `bench ${i}` } })),
        {
          id: 'counter',
          label: 'counter/add (keyed, one key, sequential)',
          what: 'keyed call: inbox + lock, state read and written',
          path: '/counter/add',
          body: () => ({ key: `cost-${run}`, request: { delta: 1 } }),
          calls: costCalls,
        },
        {
          id: 'sleep',
          label: 'sleeper/sleep 50 ms',
          what: 'one suspension, waited inline, and the resumed attempt',
          path: '/sleeper/sleep',
          body: () => ({ request: { millis: 50 } }),
          calls: Math.max(1, Math.round(costCalls * 0.6)),
        },
      ];
      const idemFirst: CostCase = {
        id: 'idem-first',
        label: 'greet + idempotency-key, first call',
        what: 'idempotent call, new key',
        path: '/greeter/greet',
        body: () => ({ request: { name: 'idem' } }),
        headers: (i) => ({ 'idempotency-key': `${run}-${i}` }),
        calls: costCalls,
      };
      const idemDup: CostCase = {
        ...idemFirst,
        id: 'idem-dup',
        label: 'greet + idempotency-key, duplicate',
        what: 'the same calls again: answered from the stored result',
      };
      const invoke: CostCase = {
        id: 'invoke',
        label: 'dev.restate.Ingress/Invoke → greeter/greet',
        what: 'one-way call, plus the background run it starts (the runs overlap, so DDB ms counts waiting on each other)',
        path: '/dev.restate.Ingress/Invoke',
        body: (i) => ({ service: 'greeter', method: 'greet', argument: { request: { name: `bench ${i}` } } }),
        calls: costCalls,
      };
      // Idempotency: present when a repeated key answers with the same invocation id.
      const p1 = await postJson(base + idemFirst.path, idemFirst.body(0), { 'idempotency-key': `${run}-probe` });
      const p2 = await postJson(base + idemFirst.path, idemFirst.body(0), { 'idempotency-key': `${run}-probe` });
      if (isUnavailable(p1.status)) idemFirst.unavailable = `answers ${p1.status}`;
      else if (p1.status !== 200 || p2.status !== 200) idemFirst.unavailable = `probe answered ${p1.status}/${p2.status}: ${p2.text.slice(0, 120)}`;
      else if (p1.headers.get('x-restate-id') !== p2.headers.get('x-restate-id'))
        idemFirst.unavailable = 'the idempotency-key header is ignored: a repeated key ran a new invocation';
      if (idemFirst.unavailable) idemDup.unavailable = idemFirst.unavailable;
      cases.push(idemFirst, idemDup, invoke);

      const results: CostResult[] = [];
      const skipped: CostCase[] = [];
      for (const c of cases) {
        const r = c.unavailable ? undefined : await measureCase(base, c, metrics, trace, COST_WARMUP);
        if (r) results.push(r);
        else skipped.push(c);
      }
      printCost(results, skipped, COST_WARMUP).forEach((l) => out(l));
      const byId = new Map(results.map((r) => [r.case.id, r]));
      for (const r of results.filter((x) => x.case.what.startsWith('plain'))) targets.push(...plainCallTargets(r));
      const first = byId.get('idem-first');
      if (first) {
        // Issue 4: "a new idempotent call costs no more writes than a plain one, a duplicate hit
        // costs one read". The first call reads its (deterministic) invocation item once: that
        // read is what lets a duplicate cost a read rather than a refused write.
        const [w] = plainCallTargets(first);
        targets.push({ ...w!, label: `${first.case.label}: ≤ 2 writes (record folded into the accept write)` });
        targets.push({
          label: `${first.case.label}: ≤ 1 read (the duplicate check)`,
          ok: first.perCall.hotReads <= 1,
          detail: `${fixed(first.perCall.hotReads)} item reads/call`,
        });
      }
      const dup = byId.get('idem-dup');
      if (dup)
        targets.push({
          label: `${dup.case.label}: 1 read, no write`,
          ok: dup.perCall.writes === 0 && dup.perCall.hotReads <= 1,
          detail: `${fixed(dup.perCall.writes)} writes/call, ${fixed(dup.perCall.hotReads)} reads/call`,
        });
      const needed: Record<string, Record<string, number>> = { counter: { instance: 1 }, 'idem-first': { invocation: 1 }, 'idem-dup': { invocation: 1 } };
      for (const r of results) findings.push(...excessReads(r, needed[r.case.id] ?? {}));
      out();
      out('  Targets (docs/operations.md, "The list index": a plain call ≈ 2 writes plus cached registry reads):');
      for (const t of targets) out(`  ${verdict(t.ok)}  ${t.label} — ${t.detail}`);
      out();
      out('  Reads beyond the minimum (unkeyed: 0; keyed: 1 of the instance item; duplicate: 1 of the invocation):');
      if (findings.length === 0) out('  none');
      for (const f of findings) out(note(f, '    ', '  - '));
    }

    if (sections.has('latency')) {
      out();
      out(`== 2. Latency and throughput of the local stack (${loadCalls} calls per row after ${LOAD_WARMUP} warm-up calls) ==`);
      const scenarios: LoadScenario[] = [
        { label: 'greet (org.example.Greeter/Greet)', path: '/org.example.Greeter/Greet', body: (i) => ({ name: `load ${i}` }) },
        { label: 'counter/add, a new key per call', path: '/counter/add', body: (i) => ({ key: `load-${run}-${i}`, request: { delta: 1 } }) },
        { label: 'counter/add, one hot key', path: '/counter/add', body: () => ({ key: `hot-${run}`, request: { delta: 1 } }) },
      ];
      const rows: LoadResult[] = [];
      for (const s of scenarios) {
        for (const c of [1, 16]) {
          // Distinct-key rows must not reuse keys across the two concurrency levels.
          const scoped: LoadScenario = { ...s, body: (i) => s.body(c * 10_000_000 + i) };
          rows.push(await runLoad(base, scoped, c, loadCalls, LOAD_WARMUP, LOAD_ROW_LIMIT_S * 1000, metrics, trace, () => settle(trace)));
        }
      }
      printLoad(rows).forEach((l) => out(l));
      out();
      out(
        note(
          `Client-side latency: fetch start to last body byte, Node fetch (undici) with keep-alive, on the same 2-core machine as the server, DynamoDB Local (a JVM) and the endpoint, so they compete for CPU. calls/s = calls / wall time of the row; a row stops issuing calls after ${LOAD_ROW_LIMIT_S} s (calls < ${loadCalls} then). DDB req/call = DynamoDB requests per call during the row, background work included; DDB write/read ms = mean duration of one DynamoDB Local request (it applies writes one at a time, so write latency grows with concurrency). load = 1-minute load average when the row ended (${cpus().length} cores). Lines with + list requests per call that concurrency adds over the same scenario at c=1. On AWS each DynamoDB round trip is ~3-10 ms instead of DynamoDB Local's ~1-3 ms, and Lambda concurrency replaces this single Node process.`,
        ),
      );
    }
    if (OWN_SERVICE_SECTIONS.some((s) => sections.has(s))) {
      benchServer = await startBenchServer();
      const reg = await fetch(`${runner.adminUrl}/endpoints`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: benchServer.uri, force: true }),
      });
      if (reg.status >= 300) throw new Error(`registering the bench services at ${benchServer.uri} failed: ${reg.status} ${await reg.text()}`);
      await reg.text();
      const env: EntryEnv = { base, metrics, trace, server: benchServer, run, localTimers: sharedRuntime().localTimers };
      await ownServiceSections(env);
    }
    out();
    out(
      `  ${benchServer ? 'Restate SDK endpoints (example + bench services)' : 'Example endpoint (Restate SDK)'} log: ${sdkLog.errors} error line(s)${sdkLog.firstError ? `, first: ${sdkLog.firstError}` : ''}`,
    );
  } finally {
    await runner?.stop();
    // After the runner: its stop closes the pooled h2c sessions, which server.close() waits for.
    await benchServer?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- 4–7: purpose-built services ----------------------------------------------------------------

function loadLine(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

async function ownServiceSections(env: EntryEnv): Promise<void> {
  let entries: Map<string, EntryResult> | undefined;
  let effects: EffectsResult[] | undefined;
  // Alone (--only …), the first case would pay for a cold JIT here and in DynamoDB Local.
  if (!sections.has('cost') && !sections.has('latency')) await warmUp(env, 40);
  if (sections.has('entries')) {
    out();
    out(`== 4. DynamoDB requests and capacity per journal entry kind (SDK services benchEntries/benchState, ${entryCalls} calls per case) == (${loadLine()})`);
    const cases = entryCases(env.run, entryCalls);
    entries = new Map();
    for (const c of cases) entries.set(c.id, await measureEntry(env, c));
    printEntries(entries, cases).forEach((l) => out(l));
  }
  if (sections.has('effects')) {
    out();
    out(`== 5. N side effects: endpoint round trips, replayed bytes, writes, latency (${effectsCalls} sequential calls per row) == (${loadLine()})`);
    effects = await measureEffects(env, EFFECT_COUNTS, effectsCalls);
    printEffects(effects).forEach((l) => out(l));
    out();
    out(
      note(
        "Request/response mode: every side effect ends an attempt (the SDK sends it with REQUIRES_ACK and suspends), the driver stores it (one write) and calls the endpoint again with the whole journal, so a handler with N side effects makes N+1 round trips and the bytes sent grow with N² (each replay repeats every earlier entry). round trips and req bytes counted on our h2c server (request bodies: Start + journal); largest req = the last replay; writes/WCU per call include the accept write; p50/p99 = client latency; load = 1-minute load average when the row ended. The runner's periodic sweep (16 index queries a minute) is left out here and in sections 4 and 7.",
      ),
    );
  }
  if (entries) {
    out();
    out('  Per suspension/resume cycle (differences of rows above; Δ p50 ms = difference of their client p50 latencies, noisy):');
    printCycles(entries, effects).forEach((l) => out(l));
  }
  if (sections.has('resume')) {
    out();
    out(
      `== 6. Local timers: from a sleep's due time to the resumed attempt (${resumeSamples} sleeps of ${LONG_SLEEP_MS} ms, started 300 ms apart) == (${loadLine()})`,
    );
    printResume(await measureResume(env, resumeSamples, LONG_SLEEP_MS, 300)).forEach((l) => out(l));
    out();
    out(
      note(
        `A sleep above the driver's inline threshold (2 s) suspends the invocation; the local kicker (lib/timers/local-kicker.ts) stores a timer item and arms a setTimeout for the due time, then calls the timer handler, which reads the invocation, takes it and replays it with the sleep completed. due = Date.now() + ms when the handler called ctx.sleep (as the SDK computes the wake-up time); timer fired = when our wrapper of the kicker's \`fire\` ran; endpoint resumed = when the handler's code after the sleep ran in the endpoint (same process and clock). On AWS the timer is an EventBridge Scheduler one-time schedule (minute-level precision is documented; typically seconds) and a Lambda invocation, so expect far more than here.`,
      ),
    );
  }
  if (sections.has('idempotency')) {
    out();
    out(
      `== 7. Idempotency keys: DynamoDB cost and duplicate latency (${entryCalls} calls per row, ${Math.max(5, Math.round(entryCalls / 2))} pairs; ${DUPLICATE_AFTER_MS} ms / ${SLOW_MS} ms attach) == (${loadLine()})`,
    );
    printIdempotency(await measureIdempotency(env, entryCalls, Math.max(5, Math.round(entryCalls / 2)), 200)).forEach((l) => out(l));
  }
}

// ---- 3: bundles ---------------------------------------------------------------------------------

async function bundleSection(): Promise<void> {
  out();
  out('== 3. Lambda bundles (esbuild as lib/construct/restless.ts bundles them) ==');
  const drift = bundlingDrift(ROOT);
  if (drift.length) out(`  WARNING: the construct's bundling options changed (${drift.join(', ')}); bench/bundles.ts CONSTRUCT_BUNDLING needs updating`);
  const outDir = join(ROOT, 'bench', '.out');
  const runs = 5;
  let results: BundleResult[];
  let sdk: SdkBaseline;
  try {
    ({ bundles: results, sdk } = await measureBundles(ROOT, outDir, runs));
  } finally {
    // Left in the tree, the bundles would be linted by `npm run lint` (eslint . lints .mjs).
    if (!args['keep-bundles']) rmSync(outDir, { recursive: true, force: true });
  }
  const kb = (b: number) => fixed(b / 1024, 1);
  out(
    table(
      ['bundle', 'minified KB', 'gzip KB', 'map KB', `init ms (median of ${runs})`, 'node+init ms', 'largest inputs (KB in output)'],
      results.map((r) => [
        `functions/${r.role}.ts`,
        kb(r.bytes),
        kb(r.gzipBytes),
        kb(r.mapBytes),
        r.initError ? 'error' : fixed(medianOf(r.initMs), 1),
        r.initError ? '-' : fixed(medianOf(r.wallMs), 0),
        r.top.map(([k, b]) => `${k} ${kb(b)}`).join(', '),
      ]),
    ),
  );
  for (const r of results) if (r.initError) out(`  ${r.role}: import failed: ${r.initError}`);
  out(
    `  of which the external SDK packages alone (${sdk.packages.join(', ')}): ${sdk.initError ? `error: ${sdk.initError}` : `${fixed(medianOf(sdk.initMs), 1)} ms`}`,
  );
  const ingress = results.find((r) => r.role === 'ingress');
  if (ingress)
    targets.push({
      label: `ingress bundle < ${INGRESS_BUNDLE_LIMIT_KB} KB minified`,
      ok: ingress.bytes / 1024 < INGRESS_BUNDLE_LIMIT_KB,
      detail: `${kb(ingress.bytes)} KB (largest: ${ingress.top
        .slice(0, 3)
        .map(([k, b]) => `${k} ${kb(b)} KB`)
        .join(', ')})`,
    });
  out();
  out(
    note(
      `KB = 1024 bytes of index.mjs as NodejsFunction writes it (ESM, minified, target node22, @aws-sdk/* external, createRequire banner); gzip ≈ what the deployment zip adds; the source map ships beside it. init ms = \`await import(bundle)\` in a fresh node ${process.version} with only dummy RESTLESS_*/AWS_REGION variables set, so module-scope code runs (sharedRuntime(): config, SDK clients, handlers) and no network is touched; median of ${runs} runs, taken round-robin across the bundles after one untimed run each (page cache warm). @aws-sdk/* load from node_modules here, from the Lambda runtime on AWS (Node 22); the "SDK packages alone" line is that share. node+init ms = the whole child process, node start-up included.`,
    ),
  );
  if (args['keep-bundles']) out(`  bundles kept in ${outDir}`);
}

// ---- main ---------------------------------------------------------------------------------------

header();
try {
  if (LOCAL_SECTIONS.some((s) => sections.has(s))) await localSections();
  if (sections.has('bundles')) await bundleSection();
} catch (err) {
  console.error('benchmark failed:', err);
  process.exit(1);
}
out();
out(
  `== Targets == (load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')})`,
);
for (const t of targets) out(`  ${verdict(t.ok)}  ${t.label} — ${t.detail}`);
process.exit(0);
