/**
 * One seed, start to end:
 *
 *   table + runners ─▶ workload and faults (durationMs) ─▶ faults off ─▶ quiescence (bounded) ─▶ checks
 *        │                 ops on random runners, kills/cancels,          every accepted invocation
 *        │                 runner SIGKILL+replace, SIGSTOP/SIGCONT,       terminal, two scans in a row
 *        │                 endpoint kill+restart, DynamoDB/timer/endpoint faults
 *        └── the workload endpoint and DynamoDB Local are shared by all seeds
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setEndpointFaults, startEndpoint, startRunner, type EndpointHandle, type FaultSink, type RunnerHandle } from './cluster.js';
import { request, type CallOutcome } from './http-client.js';
import { InvocationHistory } from './history.js';
import { createTable, dropTable, isTerminal, scanInvocations, tablesFor, type InvocationView } from './inspect.js';
import { checkInvariants, type Violation } from './invariants.js';
import { planSeed, runnerFaults, type SeedPlan } from './plan.js';
import { readRecords, recordTail } from './records.js';
import { Ledger, runAction, runOp, type WorkloadContext } from './workload.js';

/** What all seeds of one harness run share. */
export interface SuiteEnv {
  /** Keeps this lane's table (and record file) names apart from other lanes' and harnesses'. */
  runId: string;
  /** Seeds this lane ran so far: a repeated seed gets a table of its own. */
  seedRuns: number;
  dynamoEndpoint: string;
  /** bin/local.ts, or its bundle. */
  runnerEntry: string;
  recordsDir: string;
  endpoint: EndpointHandle;
  /** Where the logs of a failing seed go. */
  logsDir: string;
  /** The fault counter of the seed that runs now (the endpoint outlives seeds). */
  faultSink?: FaultSink;
}

export interface SeedOptions {
  processes: number;
  durationMs: number;
  opsPerSecond: number;
  quiesceTimeoutMs: number;
  /** Keep the logs even when the seed passes. */
  keepLogs?: boolean;
  progress?: (line: string) => void;
}

export interface SeedReport {
  seed: number;
  /** Distinct invocation ids an ingress answered. */
  accepted: number;
  /** Invocations in the table at the end (children and unanswered calls included). */
  invocations: number;
  faults: Record<string, number>;
  violations: Violation[];
  /** From faults off until quiescent; undefined when the bound ran out. */
  quiescenceMs?: number;
  /** When the bound ran out: what was still moving. */
  unsettled?: string;
  /** Where the time went: runners starting, the fault phase, settling, final reads and checks, tear-down. */
  phasesMs: { setup: number; faults: number; settle: number; checks: number; teardown: number };
  totalMs: number;
  logDir?: string;
}

/** Above the runners' ingress deadline (10 s), with room for a frozen runner. */
const SYNC_TIMEOUT_MS = 20_000;
/** Table scans while settling (every invocation read once per scan), and during the fault phase. */
const SCAN_EVERY_MS = 1000;
const FAULT_PHASE_SCAN_EVERY_MS = 2000;

export async function runSeed(seed: number, env: SuiteEnv, opts: SeedOptions): Promise<SeedReport> {
  const startedAt = Date.now();
  const plan = planSeed(seed, {
    runners: opts.processes,
    durationMs: opts.durationMs,
    opsPerSecond: opts.opsPerSecond,
    runId: `${env.runId}r${++env.seedRuns}`,
  });
  const faults: Record<string, number> = {};
  const count = (kind: string) => (faults[kind] = (faults[kind] ?? 0) + 1);
  env.faultSink = count;
  const tables = tablesFor(env.dynamoEndpoint, plan.table);
  const runners: RunnerHandle[] = [];
  const freezes: { from: number; to: number }[] = [];
  const background: Promise<unknown>[] = [];
  const timers: NodeJS.Timeout[] = [];
  let incarnation = 0;
  let faultsOn = true;
  let finished = false;
  let faultsEndAt = Number.POSITIVE_INFINITY;

  const launch = (register: boolean) => {
    const n = incarnation++;
    const spec = faultsOn ? runnerFaults(plan, n, Number.isFinite(faultsEndAt) ? faultsEndAt : undefined) : undefined;
    return startRunner({
      entry: env.runnerEntry,
      name: `runner-${n}`,
      dynamoEndpoint: env.dynamoEndpoint,
      table: plan.table,
      register: register ? env.endpoint.uri : undefined,
      faults: spec,
      faultSink: () => (finished ? undefined : count),
    });
  };
  const usable = () => runners.filter((r) => r.proc.alive && !r.proc.frozen);
  const ctx: WorkloadContext = {
    run: plan.table,
    ledger: new Ledger(),
    syncTimeoutMs: SYNC_TIMEOUT_MS,
    runner: (pick) => {
      const alive = runners.filter((r) => r.proc.alive);
      const pool = usable().length > 0 ? usable() : alive.length > 0 ? alive : runners;
      return pool[pick % pool.length]!;
    },
  };
  const history = new InvocationHistory();
  let report: SeedReport | undefined;
  let lastScan: InvocationView[] = [];
  const scan = async () => {
    lastScan = await scanInvocations(tables);
    history.observe(lastScan);
    return lastScan;
  };

  try {
    await createTable(tables);
    // The first runner registers the endpoint; the others find it in the shared table when the
    // first call comes (a registry miss is looked up again), so all start at once.
    runners.push(...(await Promise.all(Array.from({ length: plan.runners }, (_, i) => launch(i === 0)))));
    await setEndpointFaults(env.endpoint, plan.endpointFaults);
    const t0 = Date.now();
    faultsEndAt = t0 + plan.durationMs;
    opts.progress?.(
      `seed ${seed}: ${plan.runners} runners up in ${t0 - startedAt} ms; ${plan.ops.length} operations over ${plan.durationMs} ms (intensity ${plan.intensity})`,
    );

    const at = (ms: number, fn: () => Promise<unknown>) =>
      new Promise<void>((res) =>
        timers.push(
          setTimeout(
            () =>
              void fn()
                .catch((err: unknown) => opts.progress?.(`seed ${seed}: ${(err as Error).message}`))
                .finally(res),
            Math.max(0, t0 + ms - Date.now()),
          ),
        ),
      );

    const ops = plan.ops.map((op) => {
      if (op.disconnectAfterMs !== undefined) count('client.disconnect');
      return at(op.atMs, () => runOp(ctx, op));
    });
    const actions = plan.actions.map((a) =>
      at(a.atMs, async () => {
        if (ctx.ledger.killTargets().length > 0) count(`admin.${a.kind}`);
        await runAction(ctx, a);
      }),
    );
    for (const ev of plan.processEvents) {
      background.push(
        at(ev.atMs, async () => {
          if (!faultsOn) return;
          if (ev.kind === 'kill-runner') {
            const alive = runners.filter((r) => r.proc.alive);
            if (alive.length < 2) return;
            const victim = alive[ev.pick % alive.length]!;
            count('process.runner-kill');
            await victim.proc.killAndWait();
            // Another instance takes its place, as Lambda starts a new one.
            runners.push(await launch(false));
          } else if (ev.kind === 'freeze-runner') {
            const candidates = runners.filter((r) => r.proc.alive && !r.proc.frozen);
            if (candidates.length < 2) return;
            const victim = candidates[ev.pick % candidates.length]!;
            count('process.runner-freeze');
            const window = { from: Date.now(), to: Number.POSITIVE_INFINITY };
            freezes.push(window);
            victim.proc.freeze();
            await new Promise((r) => timers.push(setTimeout(r, ev.forMs)));
            if (victim.proc.frozen) victim.proc.thaw();
            window.to = Math.min(window.to, Date.now());
          } else {
            count('process.endpoint-kill');
            await restartEndpoint(env);
            if (faultsOn) await setEndpointFaults(env.endpoint, plan.endpointFaults);
          }
        }),
      );
    }

    // Awakeables published by the workload are resolved through the ingress, retried until one lands.
    const resolved = new Set<string>();
    const pendingAwakeables: { id: string; tag: string }[] = [];
    const tail = recordTail(env.recordsDir, plan.table);
    const resolver = (async () => {
      while (!finished) {
        for (const r of tail())
          if (r.k === 'awk' && !resolved.has(r.v) && !pendingAwakeables.some((p) => p.id === r.v)) pendingAwakeables.push({ id: r.v, tag: r.tag });
        const next = pendingAwakeables[0];
        if (next) {
          const res = await request(
            'POST',
            `${ctx.runner(Math.floor(Math.random() * 1000)).ingressUrl}/dev.restate.Awakeables/Resolve`,
            { id: next.id, json_result: `by-ingress:${next.tag}` },
            { timeoutMs: 5_000 },
          );
          if (res.kind === 'answer' && res.status < 500) {
            resolved.add(next.id);
            pendingAwakeables.shift();
          }
        }
        await new Promise((r) => setTimeout(r, next ? 20 : 200));
      }
    })();
    const scanner = (async () => {
      while (!finished && faultsOn) {
        await scan().catch(() => undefined);
        await new Promise((r) => setTimeout(r, FAULT_PHASE_SCAN_EVERY_MS));
      }
    })();

    // The fault phase ends: thaw, switch every fault off, let the system settle.
    await new Promise((r) => timers.push(setTimeout(r, Math.max(0, faultsEndAt - Date.now()))));
    faultsOn = false;
    const offAt = Date.now();
    for (const r of runners) {
      if (r.proc.frozen) r.proc.thaw();
      if (r.proc.alive) r.proc.signalGroup('SIGUSR2');
    }
    for (const f of freezes) f.to = Math.min(f.to, offAt);
    await Promise.all(background);
    for (const r of runners) if (r.proc.alive) r.proc.signalGroup('SIGUSR2');
    await setEndpointFaults(env.endpoint, undefined);
    await scanner;

    const bound = offAt + opts.quiesceTimeoutMs;
    await Promise.race([Promise.all([...ops, ...actions]), sleepUntil(bound)]);
    let quiescenceMs: number | undefined;
    let calmScans = 0;
    let previousCount = -1;
    /** Why the seed is not quiescent yet (reported when the bound runs out). */
    let unsettled = '';
    while (Date.now() < bound) {
      const views = await scan().catch(() => undefined);
      const open = ctx.ledger.entries.filter((e) => !e.outcome).length;
      const running = views?.filter((v) => !isTerminal(v)).length ?? 0;
      unsettled = [
        views === undefined ? 'the table scan failed' : '',
        running ? `${running} invocations not terminal` : '',
        pendingAwakeables.length ? `${pendingAwakeables.length} awakeables not resolved` : '',
        open ? `${open} calls still open` : '',
      ]
        .filter(Boolean)
        .join(', ');
      const calm = views !== undefined && running === 0 && views.length === previousCount && pendingAwakeables.length === 0 && open === 0;
      previousCount = views?.length ?? -1;
      calmScans = calm ? calmScans + 1 : 0;
      if (calmScans >= 2) {
        quiescenceMs = Date.now() - offAt;
        break;
      }
      await new Promise((r) => setTimeout(r, SCAN_EVERY_MS));
    }
    if (quiescenceMs === undefined) {
      // The final checks need a scan of now, not of whenever the last one succeeded.
      if ((await scan().catch(() => undefined)) === undefined) throw new Error(`seed ${seed}: the table could not be scanned at the end`);
    }
    finished = true;
    await resolver;

    const settledAt = Date.now();
    const final = await readFinalState(ctx, plan, lastScan);
    const records = readRecords(env.recordsDir, plan.table);
    const violations = checkInvariants({
      ledger: ctx.ledger,
      views: lastScan,
      history,
      records,
      outputs: final.outputs,
      counters: final.counters,
      fifos: final.fifos,
      freezes,
      quiescent: quiescenceMs !== undefined,
    });
    // A seed that never settled must not pass, even when no invocation is left running.
    if (quiescenceMs === undefined && !violations.some((v) => v.invariant === 'stuck')) {
      violations.push({ invariant: 'not-quiescent', detail: `not quiescent ${opts.quiesceTimeoutMs} ms after the faults stopped: ${unsettled || 'unknown'}` });
    }
    const phasesMs = { setup: t0 - startedAt, faults: offAt - t0, settle: settledAt - offAt, checks: Date.now() - settledAt, teardown: 0 };
    report = {
      seed,
      accepted: ctx.ledger.acceptedIds().size,
      invocations: lastScan.length,
      faults,
      violations,
      quiescenceMs,
      unsettled: quiescenceMs === undefined ? unsettled : undefined,
      phasesMs,
      totalMs: 0,
    };
    if (violations.length > 0 || opts.keepLogs) report.logDir = writeLogs(env, plan, runners, ctx.ledger, lastScan, violations);
    else rmSync(join(env.recordsDir, `${plan.table}.jsonl`), { force: true });
  } finally {
    const teardownAt = Date.now();
    finished = true;
    env.faultSink = undefined;
    for (const t of timers) clearTimeout(t);
    await Promise.all(runners.map((r) => r.proc.killAndWait()));
    await dropTable(tables);
    if (report) report.phasesMs.teardown = Date.now() - teardownAt;
  }
  // Reached only when the try block ran to its end, which sets the report.
  const done = report!;
  done.totalMs = Date.now() - startedAt;
  return done;
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
}

/** Restarts the workload endpoint on the same ports (its registration stays valid). */
async function restartEndpoint(env: SuiteEnv): Promise<void> {
  const old = env.endpoint;
  await old.proc.killAndWait();
  const port = Number(new URL(old.uri).port);
  const controlPort = Number(new URL(old.controlUrl).port);
  env.endpoint = await startEndpoint({ entry: old.entry, recordsDir: env.recordsDir, port, controlPort, faultSink: () => env.faultSink });
}

/** Reads, with faults off, what the checks compare against: stored outputs, counters, FIFO lists. */
async function readFinalState(ctx: WorkloadContext, plan: SeedPlan, views: InvocationView[]) {
  const call = async (method: string, path: string, body?: unknown): Promise<CallOutcome> => {
    let last: CallOutcome | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      last = await request(method, `${ctx.runner(attempt).ingressUrl}${path}`, body, { timeoutMs: 10_000 });
      if (last.kind === 'answer' && last.status < 500) return last;
    }
    return last!;
  };
  const outputs = new Map<string, CallOutcome>();
  const answered = new Set(ctx.ledger.entries.filter((e) => e.call === 'sync' && e.id && e.outcome?.kind === 'answer').map((e) => e.id!));
  for (const id of answered) outputs.set(id, await call('GET', `/restate/invocation/${encodeURIComponent(id)}/output`));
  const keysOf = (service: string, planned: string[]) => [...new Set([...planned, ...views.filter((v) => v.service === service).map((v) => v.key)])].sort();
  const counters = new Map<string, number | undefined>();
  for (const key of keysOf('chaosCounter', plan.counterKeys)) {
    const res = await call('POST', '/chaosCounter/get', { key });
    counters.set(key, res.kind === 'answer' && res.status === 200 ? ((res.json as { response?: number }).response ?? 0) : undefined);
  }
  const fifos = new Map<string, string[] | undefined>();
  for (const key of keysOf('chaosFifo', plan.fifoKeys)) {
    const res = await call('POST', '/chaosFifo/list', { key });
    fifos.set(key, res.kind === 'answer' && res.status === 200 ? ((res.json as { response?: string[] }).response ?? []) : undefined);
  }
  return { outputs, counters, fifos };
}

/** Everything needed to diagnose a seed: runner output, the ledger, the final table, the endpoint records. */
function writeLogs(env: SuiteEnv, plan: SeedPlan, runners: RunnerHandle[], ledger: Ledger, views: InvocationView[], violations: Violation[]): string {
  // A repeated seed keeps the logs of each run.
  let dir = join(env.logsDir, `seed-${plan.seed}`);
  for (let k = 2; existsSync(dir); k++) dir = join(env.logsDir, `seed-${plan.seed}-${k}`);
  mkdirSync(dir, { recursive: true });
  for (const r of runners) writeFileSync(join(dir, `${r.name}.log`), r.proc.output().join('\n'));
  writeFileSync(join(dir, 'endpoint.log'), env.endpoint.proc.output().join('\n'));
  writeFileSync(join(dir, 'ledger.json'), JSON.stringify({ entries: ledger.entries, kills: ledger.kills }, null, 1));
  writeFileSync(
    join(dir, 'table.json'),
    JSON.stringify(
      views.map((v) => ({
        ...v,
        result: v.result?.kind === 'value' ? { kind: 'value', value: Buffer.from(v.result.value).toString('base64') } : v.result,
        journal: v.journal.length,
      })),
      null,
      1,
    ),
  );
  writeFileSync(join(dir, 'violations.json'), JSON.stringify(violations, null, 1));
  writeFileSync(
    join(dir, 'records.jsonl'),
    readRecords(env.recordsDir, plan.table)
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  return dir;
}
