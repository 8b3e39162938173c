/**
 * Runs many seeds on one DynamoDB Local (each seed gets a fresh table and fresh runners; each
 * lane of seeds its own workload endpoint), and sums them up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle, startEndpoint } from './cluster.js';
import { jsonLine, ManagedProcess } from './processes.js';
import type { Violation } from './invariants.js';
import { runSeed, type SeedOptions, type SeedReport, type SuiteEnv } from './seed-run.js';

export interface SuiteOptions extends SeedOptions {
  seeds: number[];
  /** Join this DynamoDB instead of starting DynamoDB Local. */
  dynamoEndpoint?: string;
  logsDir: string;
  /** Run bin/local.ts and the endpoint through tsx instead of bundles of them (slower start-up). */
  noBundle?: boolean;
  /** Seeds run at once, each with its own endpoint and runners (a seed mostly waits while it settles). */
  parallel?: number;
  /** Called after each seed. */
  onSeed?: (report: SeedReport) => void;
}

export interface SuiteReport {
  runs: SeedReport[];
  accepted: number;
  invocations: number;
  faults: Record<string, number>;
  violations: number;
  violationsByInvariant: Record<string, number>;
  failedSeeds: number[];
  quiescenceP50Ms?: number;
  quiescenceP99Ms?: number;
  /** Seeds that did not quiesce within the bound. */
  unquiesced: number;
  meanSeedMs: number;
}

export async function runSuite(opts: SuiteOptions): Promise<SuiteReport> {
  const runId = Math.random().toString(36).slice(2, 8);
  const recordsDir = mkdtempSync(join(tmpdir(), 'restless-chaos-'));
  const ddb = opts.dynamoEndpoint ? undefined : new ManagedProcess('dynamodb', 'test/chaos/dynamodb-process.ts', [], {});
  const lanes: SuiteEnv[] = [];
  const runs: SeedReport[] = [];
  try {
    const dynamoEndpoint = opts.dynamoEndpoint ?? (await ddb!.waitForLine((line) => jsonLine(line)?.endpoint as string | undefined, 60_000));
    const bundled = (script: string) => (opts.noBundle ? script : buildBundle(script, recordsDir));
    const [runnerEntry, endpointEntry] = await Promise.all([bundled('bin/local.ts'), bundled('test/chaos/workload-endpoint.ts')]);
    const queue = [...opts.seeds];
    // A lane runs one seed at a time with its own endpoint (its faults and their count are the seed's).
    const lane = async (n: number) => {
      const env: SuiteEnv = {
        runId: `${runId}l${n}`,
        seedRuns: 0,
        dynamoEndpoint,
        runnerEntry,
        recordsDir,
        logsDir: opts.logsDir,
        endpoint: await startEndpoint({ entry: endpointEntry, recordsDir, faultSink: () => env.faultSink }),
      };
      lanes.push(env);
      for (let seed = queue.shift(); seed !== undefined; seed = queue.shift()) {
        if (!env.endpoint.proc.alive) env.endpoint = await startEndpoint({ entry: endpointEntry, recordsDir, faultSink: () => env.faultSink });
        const started = Date.now();
        let report: SeedReport;
        try {
          report = await runSeed(seed, env, opts);
        } catch (err) {
          // The harness itself failed (a runner that would not start…): that seed proves nothing.
          const violation: Violation = { invariant: 'harness-error', detail: (err as Error).stack ?? String(err) };
          report = {
            seed,
            accepted: 0,
            invocations: 0,
            faults: {},
            violations: [violation],
            phasesMs: { setup: 0, faults: 0, settle: 0, checks: 0, teardown: 0 },
            totalMs: Date.now() - started,
          };
        }
        runs.push(report);
        opts.onSeed?.(report);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.parallel ?? 1) }, (_, n) => lane(n)));
  } finally {
    await Promise.all(lanes.map((env) => env.endpoint.proc.killAndWait()));
    await ddb?.killAndWait();
    rmSync(recordsDir, { recursive: true, force: true });
  }
  return summarize(runs.sort((a, b) => a.seed - b.seed));
}

export function summarize(runs: SeedReport[]): SuiteReport {
  const faults: Record<string, number> = {};
  const byInvariant: Record<string, number> = {};
  for (const r of runs) {
    for (const [k, n] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + n;
    for (const v of r.violations) byInvariant[v.invariant] = (byInvariant[v.invariant] ?? 0) + 1;
  }
  const quiet = runs.flatMap((r) => (r.quiescenceMs !== undefined ? [r.quiescenceMs] : [])).sort((a, b) => a - b);
  const pct = (p: number) => (quiet.length ? quiet[Math.min(quiet.length - 1, Math.ceil((p / 100) * quiet.length) - 1)] : undefined);
  return {
    runs,
    accepted: runs.reduce((s, r) => s + r.accepted, 0),
    invocations: runs.reduce((s, r) => s + r.invocations, 0),
    faults,
    violations: runs.reduce((s, r) => s + r.violations.length, 0),
    violationsByInvariant: byInvariant,
    failedSeeds: [...new Set(runs.filter((r) => r.violations.length > 0).map((r) => r.seed))],
    quiescenceP50Ms: pct(50),
    quiescenceP99Ms: pct(99),
    unquiesced: runs.filter((r) => r.quiescenceMs === undefined).length,
    meanSeedMs: runs.length ? Math.round(runs.reduce((s, r) => s + r.totalMs, 0) / runs.length) : 0,
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

function faultList(faults: Record<string, number>): string {
  return Object.entries(faults)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
}

/** One seed as printed: a summary line, then one line per violation. */
export function formatSeed(r: SeedReport): string {
  const p = r.phasesMs;
  const head = `seed ${r.seed} ${r.violations.length ? `FAIL (${r.violations.length} violations)` : 'ok'}: accepted ${r.accepted}, in table ${r.invocations}, quiescent ${r.quiescenceMs === undefined ? `NOT within the bound (${r.unsettled || 'unknown'})` : `in ${seconds(r.quiescenceMs)}`}, seed took ${seconds(r.totalMs)} (set-up ${seconds(p.setup)}, faults ${seconds(p.faults)}, settle ${seconds(p.settle)}, checks ${seconds(p.checks)}, tear-down ${seconds(p.teardown)})\n  faults: ${faultList(r.faults) || 'none'}`;
  const lines = r.violations.map((v) => `  [${v.invariant}] seed ${r.seed}${v.id ? ` ${v.id}` : ''}${v.tag ? ` (${v.tag})` : ''}: ${v.detail}`);
  if (r.logDir) lines.push(`  logs: ${r.logDir}`);
  return [head, ...lines].join('\n');
}

export function formatSuite(s: SuiteReport): string {
  const failed = s.failedSeeds.length ? `\n  failing seeds: ${s.failedSeeds.join(' ')} (replay one with --seed N)` : '';
  const invariants = Object.entries(s.violationsByInvariant)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  return `chaos: ${s.runs.length} seed runs, ${s.accepted} invocations accepted (${s.invocations} in the tables), ${s.violations} violations${invariants ? ` (${invariants})` : ''}
  faults: ${faultList(s.faults) || 'none'}
  quiescence p50 ${seconds(s.quiescenceP50Ms)}, p99 ${seconds(s.quiescenceP99Ms)}, not quiescent within the bound: ${s.unquiesced}; mean seed ${seconds(s.meanSeedMs)}${failed}`;
}
