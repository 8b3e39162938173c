/**
 * Restless beside the Restate server, on this machine, in one run (`npm run bench:vs-restate`).
 *
 * Both stacks serve the same greeter (`greeter/greet`, JSON in and out) from an SDK endpoint in its
 * own process and are loaded by wrk (HTTP/1.1 keep-alive) one after the other: plain calls and
 * calls with a fresh Idempotency-Key each, at each concurrency. For every row the CPU time each
 * process spent (from /proc) is divided by the calls answered, so the runtime's share is measured
 * apart from the endpoint's and from DynamoDB Local's.
 *
 * Restate comes from npm (`@restatedev/restate-server`, a prebuilt binary in the package, and a 1.x
 * SDK for its greeter), installed into a scratch folder the first time. Everything this script
 * starts it stops; nothing else is touched. wrk comes from Debian (`apt-get install wrk`); as root
 * the script installs it when missing.
 *
 *   npx tsx bench/vs-restate.ts [--seconds 10] [--warmup 20] [--connections 1,16] [--only restless|restate]
 *                               [--scratch bench/.restate] [--cpu-prof DIR] [--in-memory]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../lib/local/dynamodb-local.js';
import { fixed, table, verdict } from './format.js';
import { processCpuMs } from './process-cpu.js';

const RESTATE_SERVER = '@restatedev/restate-server@1.7.12';
const RESTATE_SDK = '@restatedev/restate-sdk@1.17.2';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    // DynamoDB Local's JIT needs a few thousand requests before its CPU per request settles.
    warmup: { type: 'string', default: '20' },
    connections: { type: 'string', default: '1,16' },
    only: { type: 'string' },
    scratch: { type: 'string', default: join(ROOT, 'bench', '.restate') },
    'cpu-prof': { type: 'string' },
    'in-memory': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
const CONNECTIONS = args.connections.split(',').map(Number);

/** A process whose CPU time is counted, by the role it plays. */
interface Counted {
  role: string;
  pid: number;
}

interface Stack {
  name: string;
  url: string;
  body: string;
  processes: Counted[];
  stop(): Promise<void>;
}

interface Row {
  stack: string;
  scenario: string;
  connections: number;
  calls: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpuMsPerCall: Record<string, number>;
}

const started: ChildProcess[] = [];

function start(cmd: string, argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: string }): ChildProcess {
  const child = spawn(cmd, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => writeFileSync(opts.log, out));
  started.push(child);
  return child;
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((res) => {
          if (c.exitCode !== null || c.signalCode !== null) return res();
          c.once('exit', () => res());
          c.kill('SIGINT');
          setTimeout(() => c.kill('SIGKILL'), 8_000).unref();
        }),
    ),
  );
}

async function waitFor(what: string, check: () => Promise<boolean>, child: ChildProcess, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode})`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function ensureWrk(): void {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  if (process.getuid?.() === 0) {
    console.log('installing wrk (apt-get)…');
    spawnSync('sh', ['-c', 'apt-get install -y wrk || (apt-get update && apt-get install -y wrk)'], { stdio: 'ignore' });
  }
  if (spawnSync('wrk', ['--version']).error !== undefined) throw new Error('wrk is needed: apt-get install wrk');
}

function ensureRestate(scratch: string): { server: string; sdkDir: string } {
  const server = join(scratch, 'node_modules', '@restatedev', `restate-server-linux-${process.arch}`, 'bin', 'restate-server');
  if (!existsSync(server)) {
    console.log(`installing ${RESTATE_SERVER} and ${RESTATE_SDK} into ${scratch}…`);
    mkdirSync(scratch, { recursive: true });
    if (!existsSync(join(scratch, 'package.json'))) writeFileSync(join(scratch, 'package.json'), '{"private":true,"type":"module"}\n');
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', RESTATE_SERVER, RESTATE_SDK], { cwd: scratch, stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(server)) throw new Error(`could not install the Restate server into ${scratch}`);
  }
  // The 1.x SDK calls Promise.withResolvers, which Node 20 lacks.
  writeFileSync(
    join(scratch, 'greeter.mjs'),
    `if (!Promise.withResolvers) Promise.withResolvers = () => { let resolve, reject; const promise = new Promise((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; };
const restate = await import('@restatedev/restate-sdk');
const greeter = restate.service({ name: 'greeter', handlers: { greet: async (_ctx, req) => ({ greeting: 'Hello ' + (req?.name ?? '') }) } });
restate.endpoint().bind(greeter).listen(Number(process.argv[2]));
`,
  );
  return { server, sdkDir: scratch };
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(10_000) });
}

async function startRestate(scratch: string, work: string): Promise<Stack> {
  const { server } = ensureRestate(scratch);
  const [ingress, admin, node, endpoint] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const greeter = start('node', [join(scratch, 'greeter.mjs'), String(endpoint)], {
    cwd: scratch,
    env: { RESTATE_LOGGING: 'WARN' },
    log: join(work, 'restate-greeter.log'),
  });
  const srv = start(server, ['--no-logo', '--listen-mode', 'tcp'], {
    cwd: work,
    env: {
      RESTATE_BASE_DIR: join(work, 'restate-data'),
      RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingress}`,
      RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${admin}`,
      RESTATE_BIND_ADDRESS: `127.0.0.1:${node}`,
      RESTATE_DISABLE_TELEMETRY: 'true',
      RESTATE_LOG_FILTER: 'warn',
    },
    log: join(work, 'restate-server.log'),
  });
  await waitFor('restate-server', async () => (await fetch(`http://127.0.0.1:${admin}/health`)).ok, srv);
  await waitFor(
    'restate registration',
    async () => (await post(`http://127.0.0.1:${admin}/deployments`, JSON.stringify({ uri: `http://127.0.0.1:${endpoint}` }))).ok,
    greeter,
  );
  const url = `http://127.0.0.1:${ingress}/greeter/greet`;
  const body = JSON.stringify({ name: 'Pete' });
  await waitFor('restate greeter', async () => (await (await post(url, body)).text()).includes('Hello Pete'), srv);
  return {
    name: 'Restate 1.7.12 + SDK 1.17',
    url,
    body,
    processes: [
      { role: 'server', pid: srv.pid! },
      { role: 'endpoint', pid: greeter.pid! },
    ],
    stop: () => stopAll([greeter, srv]),
  };
}

async function startRestless(work: string): Promise<Stack> {
  const [ingress, admin, endpoint] = [await freePort(), await freePort(), await freePort()];
  const tsx = ['--import', 'tsx'];
  const ep = start('node', [...tsx, join(ROOT, 'examples', 'serve.ts'), String(endpoint), 'services'], { cwd: ROOT, log: join(work, 'restless-endpoint.log') });
  const prof = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(args['cpu-prof'])}`] : [];
  const runnerArgs = [
    ...prof,
    ...tsx,
    join(ROOT, 'bin', 'local.ts'),
    '--ingress-port',
    String(ingress),
    '--admin-port',
    String(admin),
    '--no-example',
    '--register',
    `http://127.0.0.1:${endpoint}`,
  ];
  runnerArgs.push(...(args['in-memory'] ? ['--in-memory'] : ['--data-dir', join(work, 'restless-data')]));
  const runner = start('node', runnerArgs, {
    cwd: ROOT,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    log: join(work, 'restless-runner.log'),
  });
  await waitFor('restless runner', async () => (await fetch(`http://127.0.0.1:${admin}/health`)).ok, runner);
  const java = spawnSync('pgrep', ['-P', String(runner.pid), 'java'])
    .stdout.toString()
    .trim()
    .split('\n')[0];
  if (!java) throw new Error('DynamoDB Local (java) not found under the runner');
  const url = `http://127.0.0.1:${ingress}/greeter/greet`;
  const body = JSON.stringify({ request: { name: 'Pete' } });
  if (!(await (await post(url, body)).text()).includes('Hello Pete')) throw new Error('restless greeter did not answer');
  return {
    name: 'Restless (npm start)',
    url,
    body,
    processes: [
      { role: 'runtime', pid: runner.pid! },
      { role: 'dynamodb-local', pid: Number(java) },
      { role: 'endpoint', pid: ep.pid! },
    ],
    stop: () => stopAll([runner, ep]),
  };
}

function wrkScript(work: string, stack: Stack, idempotent: boolean, run: string): string {
  const path = join(work, `${run}.lua`);
  const lua = [
    `wrk.method = "POST"`,
    `wrk.body = ${JSON.stringify(stack.body)}`,
    `wrk.headers["Content-Type"] = "application/json"`,
    ...(idempotent
      ? [
          'local threads = 0',
          'function setup(thread) threads = threads + 1; thread:set("tid", threads) end',
          'local n = 0',
          `function request() n = n + 1; wrk.headers["Idempotency-Key"] = "${run}-" .. tostring(tid) .. "-" .. n; return wrk.format() end`,
        ]
      : []),
  ];
  writeFileSync(path, lua.join('\n') + '\n');
  return path;
}

function parseDuration(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
}

function wrk(
  url: string,
  script: string,
  connections: number,
  seconds: number,
): { calls: number; errors: number; perSecond: number; p50: number; p99: number } {
  const threads = Math.min(2, connections);
  const r = spawnSync('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency', '-s', script, url], { encoding: 'utf8' });
  const out = r.stdout;
  const calls = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return {
    calls,
    errors,
    perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: parseDuration(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99: parseDuration(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
  };
}

function measure(stack: Stack, work: string, scenario: 'plain' | 'idempotent', connections: number): Row {
  const run = `${stack.name.split(' ')[0]!.toLowerCase()}-${scenario}-c${connections}-${Date.now()}`;
  const script = wrkScript(work, stack, scenario === 'idempotent', run);
  if (WARMUP > 0) wrk(stack.url, wrkScript(work, stack, scenario === 'idempotent', `${run}-warm`), connections, WARMUP);
  const before = stack.processes.map((p) => processCpuMs(p.pid));
  const r = wrk(stack.url, script, connections, SECONDS);
  const cpuMsPerCall: Record<string, number> = {};
  stack.processes.forEach((p, i) => (cpuMsPerCall[p.role] = (processCpuMs(p.pid) - before[i]!) / r.calls));
  return { stack: stack.name, scenario, connections, ...r, cpuMsPerCall };
}

async function main(): Promise<void> {
  ensureWrk();
  const work = mkdtempSync(join(tmpdir(), 'restless-vs-restate-'));
  const rows: Row[] = [];
  const stacks: Array<() => Promise<Stack>> = [];
  if (args.only !== 'restate') stacks.push(() => startRestless(work));
  if (args.only !== 'restless') stacks.push(() => startRestate(resolve(args.scratch), work));
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  console.log(
    `${new Date().toISOString()}  ${cpus().length} × ${cpus()[0]?.model}  load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}  commit ${commit}`,
  );
  console.log(`wrk, ${SECONDS} s per row after ${WARMUP} s of warm-up; logs in ${work}\n`);
  try {
    for (const startStack of stacks) {
      const stack = await startStack();
      try {
        for (const scenario of ['plain', 'idempotent'] as const) {
          for (const c of CONNECTIONS) {
            const row = measure(stack, work, scenario, c);
            rows.push(row);
            const cpu = Object.entries(row.cpuMsPerCall)
              .map(([k, v]) => `${k} ${fixed(v)}`)
              .join(', ');
            console.log(
              `  ${stack.name}, ${scenario}, c=${c}: ${fixed(row.perSecond, 0)}/s, p50 ${fixed(row.p50)} ms, errors ${row.errors}; CPU ms/call: ${cpu}  (load ${loadavg()[0]!.toFixed(2)})`,
            );
          }
        }
      } finally {
        await stack.stop();
      }
    }
  } finally {
    await stopAll(started);
  }
  console.log(
    '\n' +
      table(
        ['stack', 'scenario', 'conns', 'calls/s', 'p50 ms', 'p99 ms', 'errors', 'CPU ms/call (by process)'],
        rows.map((r) => [
          r.stack,
          r.scenario,
          String(r.connections),
          fixed(r.perSecond, 0),
          fixed(r.p50),
          fixed(r.p99),
          String(r.errors),
          Object.entries(r.cpuMsPerCall)
            .map(([k, v]) => `${k} ${fixed(v)}`)
            .join(', '),
        ]),
      ),
  );
  const ratio = (scenario: string, c: number, f: (r: Row) => number) => {
    const a = rows.find((r) => r.stack.startsWith('Restless') && r.scenario === scenario && r.connections === c);
    const b = rows.find((r) => r.stack.startsWith('Restate') && r.scenario === scenario && r.connections === c);
    return a && b ? f(a) / f(b) : NaN;
  };
  if (rows.some((r) => r.stack.startsWith('Restate')) && rows.some((r) => r.stack.startsWith('Restless'))) {
    console.log('\nRestless / Restate:');
    for (const scenario of ['plain', 'idempotent'])
      for (const c of CONNECTIONS)
        console.log(`  ${scenario} c=${c}: throughput ${fixed(ratio(scenario, c, (r) => r.perSecond))}×, p50 ${fixed(ratio(scenario, c, (r) => r.p50))}×`);
    // The performance targets: runtime CPU per plain call, throughput at the highest concurrency, p50 at the lowest.
    const [low, high] = [Math.min(...CONNECTIONS), Math.max(...CONNECTIONS)];
    console.log('\nTargets:');
    for (const scenario of ['plain', 'idempotent']) {
      const mine = rows.find((r) => r.stack.startsWith('Restless') && r.scenario === scenario && r.connections === high);
      const cpu = mine?.cpuMsPerCall.runtime ?? NaN;
      const tput = ratio(scenario, high, (r) => r.perSecond);
      const p50 = ratio(scenario, low, (r) => r.p50);
      console.log(`  ${verdict(cpu <= 1.0)}  ${scenario}: runtime CPU per call ≤ 1.0 ms at c=${high} — ${fixed(cpu)} ms`);
      console.log(`  ${verdict(tput >= 0.5)}  ${scenario}: throughput ≥ 0.5× Restate's at c=${high} — ${fixed(tput)}×`);
      console.log(`  ${verdict(p50 <= 1.5)}  ${scenario}: p50 ≤ 1.5× Restate's at c=${low} — ${fixed(p50)}×`);
    }
  }
  if (!process.env.KEEP_BENCH_LOGS) rmSync(work, { recursive: true, force: true });
}

process.on('SIGINT', () => void stopAll(started).then(() => process.exit(130)));
main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  await stopAll(started);
  process.exit(1);
});
