/**
 * Starting the pieces of one chaos cluster: the workload endpoint (kept across seeds) and runner
 * processes (bin/local.ts joined to one DynamoDB table, ports picked by the OS).
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import type { FaultSpec } from '../../lib/local/faults.js';
import type { EndpointFaults } from './workload-endpoint.js';
import { jsonLine, ManagedProcess, REPO_ROOT } from './processes.js';
import { RECORDS_DIR_ENV } from './records.js';

/** Counts injected faults by kind (fed from the processes' `fault injected` lines). */
export type FaultSink = (kind: string) => void;

function countFaults(proc: ManagedProcess, sink: () => FaultSink | undefined): void {
  proc.onLineAdded((line) => {
    const json = jsonLine(line);
    if (json?.msg === 'fault injected' && typeof json.fault === 'string') sink()?.(json.fault);
  });
}

/**
 * Runtime settings of chaos runners: small timeouts so a dead process's leases lapse in seconds
 * (lease = inactivity + abort + 5 s), quick retries, and a sync deadline well under the client's.
 */
export const CHAOS_RUNTIME_ENV = {
  RESTLESS_LOG_LEVEL: 'warn',
  RESTLESS_INACTIVITY_TIMEOUT_MS: '1000',
  RESTLESS_ABORT_TIMEOUT_MS: '500',
  RESTLESS_RETRY_INITIAL_INTERVAL_MS: '50',
  RESTLESS_RETRY_MAX_INTERVAL_MS: '500',
  RESTLESS_INGRESS_DEADLINE_MS: '10000',
} as const;

/** Every runner sweeps (16 index queries each time): more often only loads a shared DynamoDB Local. */
export const SWEEP_INTERVAL_MS = 2000;

export interface RunnerHandle {
  name: string;
  proc: ManagedProcess;
  ingressUrl: string;
  adminUrl: string;
}

/**
 * A script bundled once per harness run (as the Lambdas are bundled for AWS): a runner then
 * starts in about a second instead of several under tsx, which is most of a seed's set-up.
 */
export async function buildBundle(script: string, outDir: string): Promise<string> {
  const outfile = join(outDir, `${script.replace(/[/.]/g, '_')}.mjs`);
  await build({
    entryPoints: [join(REPO_ROOT, script)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // Some dependencies still call require(): give the ESM bundle one.
    banner: { js: "import { createRequire as __restlessCreateRequire } from 'node:module'; const require = __restlessCreateRequire(import.meta.url);" },
  });
  return outfile;
}

/** Starts one runner; `entry` is bin/local.ts or its bundle. */
export async function startRunner(opts: {
  entry: string;
  name: string;
  dynamoEndpoint: string;
  table: string;
  register?: string;
  faults?: FaultSpec;
  faultSink: () => FaultSink | undefined;
  readyTimeoutMs?: number;
}): Promise<RunnerHandle> {
  const args = [
    opts.entry,
    '--dynamo-endpoint',
    opts.dynamoEndpoint,
    '--table',
    opts.table,
    '--ingress-port',
    '0',
    '--admin-port',
    '0',
    '--no-example',
    '--sweep-interval-ms',
    String(SWEEP_INTERVAL_MS),
  ];
  if (opts.register) args.push('--register', opts.register);
  const env: NodeJS.ProcessEnv = { ...CHAOS_RUNTIME_ENV, ...(opts.faults ? { RESTLESS_FAULTS: JSON.stringify(opts.faults) } : {}) };
  const proc = new ManagedProcess(opts.name, args[0]!, args.slice(1), env);
  countFaults(proc, opts.faultSink);
  const url = (label: string) => (line: string) => new RegExp(`^\\s*${label}\\s+(http\\S+)`).exec(line)?.[1];
  try {
    const [ingressUrl, adminUrl] = await Promise.all([
      proc.waitForLine(url('ingress'), opts.readyTimeoutMs ?? 30_000),
      proc.waitForLine(url('admin'), opts.readyTimeoutMs ?? 30_000),
    ]);
    return { name: opts.name, proc, ingressUrl, adminUrl };
  } catch (err) {
    await proc.killAndWait();
    throw err;
  }
}

export interface EndpointHandle {
  /** test/chaos/workload-endpoint.ts, or its bundle. */
  entry: string;
  proc: ManagedProcess;
  uri: string;
  controlUrl: string;
}

/** Starts the workload endpoint (on the given ports when restarting it, so its registration stays valid). */
export async function startEndpoint(opts: {
  entry: string;
  recordsDir: string;
  port?: number;
  controlPort?: number;
  faultSink: () => FaultSink | undefined;
}): Promise<EndpointHandle> {
  const proc = new ManagedProcess('endpoint', opts.entry, ['--port', String(opts.port ?? 0), '--control-port', String(opts.controlPort ?? 0)], {
    [RECORDS_DIR_ENV]: opts.recordsDir,
  });
  countFaults(proc, opts.faultSink);
  try {
    const ready = await proc.waitForLine((line) => {
      const json = jsonLine(line);
      return json?.msg === 'workload endpoint ready' ? (json as { port: number; controlPort: number }) : undefined;
    }, 30_000);
    return { entry: opts.entry, proc, uri: `http://127.0.0.1:${ready.port}`, controlUrl: `http://127.0.0.1:${ready.controlPort}` };
  } catch (err) {
    await proc.killAndWait();
    throw err;
  }
}

export async function setEndpointFaults(endpoint: EndpointHandle, faults: EndpointFaults | undefined): Promise<void> {
  const res = await fetch(`${endpoint.controlUrl}/faults${faults ? '' : '/off'}`, {
    method: 'POST',
    body: faults ? JSON.stringify(faults) : '',
    signal: AbortSignal.timeout(5_000),
  });
  if (res.status !== 200) throw new Error(`endpoint control answered ${res.status}`);
}
