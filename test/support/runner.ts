/**
 * Runs `bin/local.ts` as a user would: a child process on free ports, ready when it prints
 * "Restless is running", stopped with SIGINT. Everything it prints is kept for failure messages.
 * Also a small `curl` wrapper, so tests can call it with the client the README uses.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const READY_LINE = 'Restless is running';

export interface RunnerPorts {
  ingress: number;
  admin: number;
  example: number;
}

export interface RunnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningRunner {
  /** The tsx process, leader of the runner's process group (tsx, node, DynamoDB Local). */
  pid: number;
  ports: RunnerPorts;
  /** `http://127.0.0.1:<ingress port>` and so on, as the runner printed them. */
  ingressUrl: string;
  adminUrl: string;
  dynamoEndpoint: string;
  dataDir: string;
  /** Everything the runner printed so far (stdout and stderr, interleaved). */
  output(): string;
  /** The last `chars` of the output, for assertion messages. */
  tail(chars?: number): string;
  /**
   * SIGINT, then waits for the exit. `group` sends it to the whole process group (tsx, node and
   * DynamoDB Local), as Ctrl-C in a terminal does; otherwise only to the tsx process (`kill -INT`).
   * Throws (after SIGKILL of the group) when it is still running after `timeoutMs`.
   */
  stop(opts?: { group?: boolean; timeoutMs?: number }): Promise<RunnerExit>;
  /** SIGKILL of the process group; for afterAll when `stop` was not reached. */
  kill(): void;
  /** Settles when the runner's process exits, however. */
  exited: Promise<RunnerExit>;
}

/** A port nobody listens on right now (the kernel's pick for port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const addr = server.address();
  await new Promise<void>((res) => server.close(() => res()));
  if (typeof addr !== 'object' || addr === null) throw new Error('no port');
  return addr.port;
}

export async function freePorts(): Promise<RunnerPorts> {
  const seen = new Set<number>();
  const pick = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!seen.has(p)) {
        seen.add(p);
        return p;
      }
    }
  };
  return { ingress: await pick(), admin: await pick(), example: await pick() };
}

/** True when a listener can bind the port on 127.0.0.1 now. */
export async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((res) => {
    server.once('error', () => res(false));
    server.listen(port, '127.0.0.1', () => server.close(() => res(true)));
  });
}

/** Holds a port until `release`, as another program would: an HTTP server that answers 404 to everything. */
export async function occupyPort(port: number): Promise<{ port: number; release(): Promise<void> }> {
  const server = createHttpServer((_req, res) => res.writeHead(404).end('not here'));
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(port, '127.0.0.1', () => res());
  });
  return {
    port,
    release: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}

export async function tempDataDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'restless-e2e-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** The environment of a user's shell: no vitest NODE_OPTIONS, no RESTLESS_* or endpoint overrides. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('RESTLESS_') || k.startsWith('AWS_ENDPOINT_URL') || k === 'NODE_OPTIONS' || k.startsWith('VITEST')) continue;
    env[k] = v;
  }
  env.RESTLESS_LOG_LEVEL = 'info';
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return env;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) killGroup(child);
});

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * True once no process of the group `pid` is left (tsx, node, Java), polling up to `waitMs`:
 * a runner that exits must not leave DynamoDB Local behind.
 */
export async function processGroupGone(pid: number, waitMs = 3000): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      process.kill(-pid, 0);
    } catch {
      return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Spawned {
  child: ChildProcess;
  output(): string;
  exited: Promise<RunnerExit>;
}

function spawnLocal(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Spawned {
  return spawnTsx('bin/local.ts', args, extraEnv);
}

function spawnTsx(script: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Spawned {
  // detached: its own process group, so a failed test can still kill tsx, node and Java together.
  const child = spawn(TSX, [script, ...args], { cwd: REPO_ROOT, env: { ...userEnv(), ...extraEnv }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<RunnerExit>((res) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      res({ code, signal });
    });
  });
  return { child, output: () => out, exited };
}

function lastChars(text: string, chars: number): string {
  return text.length <= chars ? text : `…${text.slice(-chars)}`;
}

/** Launches `bin/local.ts` without waiting for anything (start-up races); `kill` ends its process group. */
export function launchRunner(args: string[]): { output(): string; exited: Promise<RunnerExit>; kill(): void } {
  const { child, output, exited } = spawnLocal(args);
  return { output, exited, kill: () => killGroup(child) };
}

/** Starts `bin/local.ts` with the given ports and data folder and waits for its ready line. */
export async function startRunner(opts: {
  ports: RunnerPorts;
  dataDir: string;
  extraArgs?: string[];
  readyTimeoutMs?: number;
  /** Leave out --example-port, so the runner picks its default (ports.example is then unknown). */
  defaultExamplePort?: boolean;
  /** Extra environment variables (RESTLESS_*), on top of a user's shell. */
  env?: NodeJS.ProcessEnv;
}): Promise<RunningRunner> {
  const { ports, dataDir } = opts;
  const example = opts.defaultExamplePort ? [] : ['--example-port', String(ports.example)];
  const args = ['--ingress-port', String(ports.ingress), '--admin-port', String(ports.admin), ...example, '--data-dir', dataDir, ...(opts.extraArgs ?? [])];
  const { child, output, exited } = spawnLocal(args, opts.env);
  const timeoutMs = opts.readyTimeoutMs ?? 45_000;

  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => {
      killGroup(child);
      rej(new Error(`the runner did not print "${READY_LINE}" within ${timeoutMs} ms; it printed:\n${lastChars(output(), 4000)}`));
    }, timeoutMs);
    const poll = () => {
      if (output().includes(READY_LINE)) {
        clearTimeout(timer);
        child.stdout?.off('data', poll);
        res();
      }
    };
    child.stdout?.on('data', poll);
    void exited.then((e) => {
      clearTimeout(timer);
      rej(new Error(`the runner exited (code ${e.code}, signal ${e.signal}) before it was ready; it printed:\n${lastChars(output(), 4000)}`));
    });
  });

  const printed = (label: string): string => {
    const m = new RegExp(`^\\s*${label}\\s+(\\S+)`, 'm').exec(output());
    if (m?.[1] === undefined) throw new Error(`the ready message names no ${label} URL:\n${output()}`);
    return m[1];
  };

  return {
    pid: child.pid ?? -1,
    ports,
    ingressUrl: printed('ingress'),
    adminUrl: printed('admin'),
    dynamoEndpoint: printed('dynamodb'),
    dataDir,
    output,
    tail: (chars = 3000) => lastChars(output(), chars),
    kill: () => killGroup(child),
    exited,
    async stop({ group = false, timeoutMs = 20_000 } = {}) {
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode as NodeJS.Signals | null };
      if (child.pid === undefined) throw new Error('the runner has no pid');
      process.kill(group ? -child.pid : child.pid, 'SIGINT');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') {
        killGroup(child);
        throw new Error(`the runner was still running ${timeoutMs} ms after SIGINT; it printed:\n${lastChars(output(), 4000)}`);
      }
      return result;
    },
  };
}

/** Runs `bin/local.ts` with `args` until it exits by itself (for start-up failures). */
export async function runToExit(args: string[], timeoutMs = 45_000, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunnerExit & { output: string; pid: number }> {
  const { child, output, exited } = spawnLocal(args, extraEnv);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
  const result = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (result === 'timeout') {
    killGroup(child);
    throw new Error(`bin/local.ts ${args.join(' ')} was still running after ${timeoutMs} ms; it printed:\n${lastChars(output(), 4000)}`);
  }
  return { ...result, output: output(), pid: child.pid ?? -1 };
}

export interface RunningScript {
  output(): string;
  /** SIGINT to its process group, then SIGKILL if it is still there after a second. */
  stop(): Promise<void>;
}

/** Runs a TypeScript file with tsx (in its own process group) until it prints `readyText`. */
export async function startScript(script: string, args: string[], readyText: string, timeoutMs = 30_000): Promise<RunningScript> {
  const { child, output, exited } = spawnTsx(script, args);
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => {
      killGroup(child);
      rej(new Error(`${script} did not print "${readyText}" within ${timeoutMs} ms:\n${lastChars(output(), 3000)}`));
    }, timeoutMs);
    const poll = () => {
      if (output().includes(readyText)) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout?.on('data', poll);
    child.stderr?.on('data', poll);
    void exited.then((e) => {
      clearTimeout(timer);
      rej(new Error(`${script} exited (code ${e.code}) before it was ready:\n${lastChars(output(), 3000)}`));
    });
  });
  return {
    output,
    async stop() {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid, 'SIGINT');
      const timer = setTimeout(() => killGroup(child), 1000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface CurlResult {
  status: number;
  /** Header names in lower case; the last value wins. */
  headers: Record<string, string>;
  body: Buffer;
  /** The raw stdout, for messages. */
  raw: string;
}

/** Runs curl with `args` (plus `-sS -i`) and splits its answer into status, headers and body. */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((res, rej) => {
    execFile('curl', ['-sS', '-i', ...args], { encoding: 'buffer', maxBuffer: 16 << 20, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) return rej(new Error(`curl ${args.join(' ')} failed: ${err.message}\n${stderr.toString('utf8')}`));
      res(parseCurlOutput(stdout));
    });
  });
}

/** Runs a command line through `sh -c`, exactly as typed in a terminal; resolves with stdout. */
export function shell(commandLine: string): Promise<string> {
  return new Promise((res, rej) => {
    execFile('sh', ['-c', commandLine], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) return rej(new Error(`${commandLine} failed: ${err.message}\n${stderr}`));
      res(stdout);
    });
  });
}

function parseCurlOutput(stdout: Buffer): CurlResult {
  let rest = stdout;
  // Skip interim responses (100 Continue) until the final head.
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`curl printed no HTTP head:\n${stdout.toString('utf8')}`);
    const head = rest.subarray(0, end).toString('latin1').split('\r\n');
    const body = rest.subarray(end + 4);
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head[0] ?? '')?.[1]);
    if (status >= 100 && status < 200) {
      rest = body;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return { status, headers, body, raw: stdout.toString('utf8') };
  }
}
