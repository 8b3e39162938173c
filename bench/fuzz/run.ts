/**
 * Runs generated hostile requests against a running Restless and checks the invariants:
 *
 *   - no 5xx except 501 `unimplemented`, and no gRPC status UNKNOWN / INTERNAL / UNAVAILABLE /
 *     DATA_LOSS (gRPC's 5xx);
 *   - no hang: every request is answered within the timeout (raw byte cases excepted: the
 *     server may rightly wait for the rest of a request);
 *   - no crash: the runner process is alive afterwards and a normal call still answers;
 *   - memory back near its baseline: the runner's RSS after the run, once settled.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { sampleCases, type HostileRequest } from './cases.js';
import { Sender, type Outcome, type Ports } from './send.js';

export interface FuzzOptions {
  seed: number;
  runs: number;
  concurrency?: number;
  /** A request without an answer after this long is a hang. Default 20 s. */
  timeoutMs?: number;
  /** Called every `every` cases with the number done. */
  onProgress?: (done: number) => void;
  every?: number;
}

export interface Violation {
  /** Case index within the seed: `sampleCases(seed, index + 1)[index]` replays it. */
  index: number;
  rule: string;
  request: string;
  outcome: Outcome;
}

export interface FuzzReport {
  seed: number;
  runs: number;
  /** HTTP status → count (0: no HTTP answer). */
  statuses: Record<string, number>;
  /** gRPC status → count, for answers that carry one. */
  grpcStatuses: Record<string, number>;
  families: Record<string, number>;
  clientRefused: number;
  violations: Violation[];
  /** Slowest answer, ms. */
  slowestMs: number;
  durationMs: number;
}

/** gRPC codes that mean the server failed (the gRPC side of a 5xx). */
const GRPC_SERVER_FAILURES = new Set([2, 13, 14, 15]);

/** The rule an outcome breaks, if any. */
export function judge(req: HostileRequest, out: Outcome): string | undefined {
  if (out.hung && req.transport !== 'raw') return 'no answer within the timeout';
  if (out.status >= 500 && out.status !== 501) return `HTTP ${out.status}`;
  if (out.status === 501 && req.port === 'ingress' && out.connectCode !== undefined && out.connectCode !== 'unimplemented')
    return `HTTP 501 with code ${out.connectCode}`;
  if (out.grpcStatus !== undefined && GRPC_SERVER_FAILURES.has(out.grpcStatus)) return `grpc-status ${out.grpcStatus}`;
  return undefined;
}

/** A one-line description of a request, for reports. */
export function describeRequest(req: HostileRequest): string {
  if (req.transport === 'raw')
    return `raw ${req.port}: ${JSON.stringify(
      Buffer.from(req.raw ?? [])
        .toString('latin1')
        .slice(0, 120),
    )}`;
  const body = Buffer.from(req.body);
  const shown =
    body.length > 120 ? `${JSON.stringify(body.subarray(0, 120).toString('latin1'))}… (${body.length} bytes)` : JSON.stringify(body.toString('latin1'));
  const path = req.path.length > 120 ? `${req.path.slice(0, 120)}… (${req.path.length} chars)` : req.path;
  return `${req.transport} ${req.port} ${req.method} ${path} ${JSON.stringify(req.headers)} body=${shown}`;
}

export async function runFuzz(ports: Ports, opts: FuzzOptions): Promise<FuzzReport> {
  const cases = sampleCases(opts.seed, opts.runs);
  const concurrency = opts.concurrency ?? 8;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const report: FuzzReport = {
    seed: opts.seed,
    runs: cases.length,
    statuses: {},
    grpcStatuses: {},
    families: {},
    clientRefused: 0,
    violations: [],
    slowestMs: 0,
    durationMs: 0,
  };
  const started = Date.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    const sender = new Sender(ports, timeoutMs);
    try {
      for (let i = next++; i < cases.length; i = next++) {
        const req = cases[i]!;
        const out = await sender.send(req);
        report.families[req.family] = (report.families[req.family] ?? 0) + 1;
        if (out.clientRefused) report.clientRefused++;
        else {
          report.statuses[out.status] = (report.statuses[out.status] ?? 0) + 1;
          if (out.grpcStatus !== undefined) report.grpcStatuses[out.grpcStatus] = (report.grpcStatuses[out.grpcStatus] ?? 0) + 1;
          if (req.transport !== 'raw') report.slowestMs = Math.max(report.slowestMs, out.ms);
        }
        const rule = judge(req, out);
        if (rule) report.violations.push({ index: i, rule, request: describeRequest(req), outcome: out });
        done++;
        if (opts.onProgress && done % (opts.every ?? 500) === 0) opts.onProgress(done);
      }
    } finally {
      sender.close();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  report.durationMs = Date.now() - started;
  return report;
}

/** A normal call, answered: the runtime is still healthy. */
export async function normalCallAnswers(ingressUrl: string, timeoutMs = 10_000): Promise<boolean> {
  try {
    const res = await fetch(`${ingressUrl}/org.example.Greeter/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"after"}',
      signal: AbortSignal.timeout(timeoutMs),
    });
    return res.status === 200 && ((await res.json()) as { greeting?: string }).greeting === 'Hello after';
  } catch {
    return false;
  }
}

/**
 * Resident memory (KiB) of the runner: the Node process running bin/local.ts among `rootPid`
 * and its descendants (tsx starts it as a child; DynamoDB Local's JVM is left out).
 */
export function runnerRssKb(rootPid: number): number | undefined {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // gone meanwhile
    }
  }
  let best: number | undefined;
  const visit = (pid: number) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      if (cmdline.includes('bin/local.ts') && !cmdline.startsWith('java') && rss > (best ?? 0)) best = rss;
    } catch {
      // gone meanwhile
    }
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(rootPid);
  return best;
}

/** Whether a process is still there. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
