/**
 * The three functions as on AWS, on this machine: each bundle built by esbuild with the construct's
 * own bundling options (FUNCTION_BUNDLING), each in a process of its own that takes one event at a
 * time (lib/local/lambda-host.ts), sharing one DynamoDB table. The timer function is fed by
 * an SQS/Scheduler stand-in (lib/local/aws-queues.ts) that the functions reach through their
 * own AWS clients, so kicks and wake-ups take the AwsKicker path they take on AWS:
 *
 * ```
 *  test ─ API Gateway v2 event ─IPC─▶ ingress process ─┐          ┌─ SendMessage / CreateSchedule (HTTP)
 *  test ─ API Gateway v2 event ─IPC─▶ admin process ───┼─ table ──┤
 *  AwsQueues ─ SQS batch / sweep ─IPC─▶ timer process ─┘          └─▶ AwsQueues (delays, redelivery, dead letters)
 * ```
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { ENV } from '../config.js';
import { FUNCTION_BUNDLING, FUNCTION_ENTRIES, PACKAGE_ROOT, type FunctionRole } from '../construct/restless.js';
import { eventFromRequest, type ApiGatewayResult } from '../http/apigw.js';
import type { RestlessError } from '../errors.js';
import { AwsQueues } from './aws-queues.js';
import type { HostReply, HostRequest } from './lambda-host.js';

const HOST = fileURLToPath(new URL('./lambda-host.ts', import.meta.url));
/** Under the package, so the bundles' external `@aws-sdk/*` resolve from its node_modules (Lambda ships its own). */
export const BUNDLE_DIR = join(PACKAGE_ROOT, 'node_modules', '.cache', 'restless-lambda-bundles');

/** The construct's bundling block as esbuild build options (what NodejsFunction passes to esbuild). */
export function esbuildOptionsOf(b: BundlingOptions): BuildOptions {
  return {
    bundle: true,
    format: b.format === OutputFormat.ESM ? 'esm' : 'cjs',
    target: b.target,
    platform: 'node',
    mainFields: b.mainFields,
    minify: b.minify,
    sourcemap: b.sourceMap,
    sourcesContent: b.sourcesContent,
    external: b.externalModules,
    banner: b.banner ? { js: b.banner } : undefined,
    loader: b.loader as BuildOptions['loader'],
  };
}

/** Builds the three bundles; returns their paths and sizes. */
export async function buildLambdaBundles(outDir = BUNDLE_DIR): Promise<Record<FunctionRole, { path: string; bytes: number }>> {
  const out = {} as Record<FunctionRole, { path: string; bytes: number }>;
  await Promise.all(
    (Object.keys(FUNCTION_ENTRIES) as FunctionRole[]).map(async (role) => {
      const dir = join(outDir, role);
      mkdirSync(dir, { recursive: true });
      const path = join(dir, 'index.mjs');
      await build({ ...esbuildOptionsOf(FUNCTION_BUNDLING), entryPoints: [FUNCTION_ENTRIES[role]], outfile: path, logLevel: 'error' });
      out[role] = { path, bytes: statSync(path).size };
    }),
  );
  return out;
}

class FunctionProcess {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (reply: HostReply) => void>();
  private nextId = 1;
  /** Events handed to this function so far. */
  invocations = 0;
  /** Wall time from handing an event over to its answer, summed: what Lambda bills as duration. */
  billedMs = 0;
  readonly ready: Promise<void>;
  output = '';

  constructor(
    readonly role: FunctionRole,
    bundle: string,
    env: NodeJS.ProcessEnv,
    timeoutMs: number,
  ) {
    this.child = fork(HOST, [bundle, String(timeoutMs)], {
      cwd: PACKAGE_ROOT,
      env,
      // RESTLESS_CPU_PROF_DIR (benchmarks): a V8 CPU profile per function, written when it stops.
      execArgv: [
        '--import',
        'tsx',
        '--no-warnings',
        ...(process.env.RESTLESS_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RESTLESS_CPU_PROF_DIR}`] : []),
      ],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.ready = new Promise((resolve, reject) => {
      this.waiting.set(0, () => resolve());
      this.child.once('exit', (code) => reject(new Error(`${role} process exited (${code}) before it was ready:\n${this.output}`)));
    });
    this.child.on('message', (reply: HostReply) => {
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
  }

  /** One event; the host queues it behind the one it is handling, as one Lambda instance would. */
  async invoke(event: unknown): Promise<unknown> {
    const id = this.nextId++;
    this.invocations++;
    const started = performance.now();
    const reply = await new Promise<HostReply>((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ id, event } satisfies HostRequest);
    });
    this.billedMs += performance.now() - started;
    if (reply.error !== undefined) throw new Error(`${this.role}: ${reply.error}`);
    return reply.result;
  }

  /** The function's process (benchmarks read its CPU time). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

export interface LambdaProcessesOptions {
  ddbEndpoint: string;
  tableName: string;
  /** The EventBridge rule's period. @default 60 s, as deployed */
  sweepIntervalMs?: number;
  /** Extra environment for all three functions (log level, timeouts). */
  env?: Record<string, string>;
  bundles?: Awaited<ReturnType<typeof buildLambdaBundles>>;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export async function startLambdaProcesses(opts: LambdaProcessesOptions) {
  const bundles = opts.bundles ?? (await buildLambdaBundles());
  const queues = new AwsQueues();
  await queues.start();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: opts.ddbEndpoint,
    AWS_ENDPOINT_URL_SQS: queues.endpoint,
    AWS_ENDPOINT_URL_SCHEDULER: queues.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    NODE_OPTIONS: '--enable-source-maps',
    [ENV.tableName]: opts.tableName,
    [ENV.timerQueueUrl]: queues.queueUrl,
    [ENV.timerQueueArn]: queues.queueArn,
    [ENV.deadLetterQueueArn]: queues.deadLetterQueueArn,
    [ENV.schedulerGroup]: 'restless-local',
    [ENV.schedulerRoleArn]: 'arn:aws:iam::000000000000:role/restless-scheduler',
    RESTLESS_LOG_LEVEL: 'warn',
    ...opts.env,
  };
  // The deployed timeouts (lib/construct/settings.ts): 30 s, 30 s, 15 min.
  const fns = {
    ingress: new FunctionProcess('ingress', bundles.ingress.path, env, 30_000),
    admin: new FunctionProcess('admin', bundles.admin.path, env, 30_000),
    timer: new FunctionProcess('timer', bundles.timer.path, env, 900_000),
  };
  await Promise.all(Object.values(fns).map((f) => f.ready));

  queues.consume(async (records) => {
    const event = {
      Records: records.map((r) => ({
        ...r,
        eventSource: 'aws:sqs',
        eventSourceARN: queues.queueArn,
        awsRegion: 'us-east-1',
        attributes: {},
        messageAttributes: {},
      })),
    };
    return (await fns.timer.invoke(event)) as { batchItemFailures: { itemIdentifier: string }[] };
  });
  const sweep = setInterval(() => void fns.timer.invoke({ kind: 'sweep' }).catch(() => undefined), opts.sweepIntervalMs ?? 60_000);

  /** An HTTP request as API Gateway hands it to the ingress or admin function. */
  const http = async (role: 'ingress' | 'admin', method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpReply> => {
    const bytes = body === undefined ? new Uint8Array() : new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body));
    const event = eventFromRequest({
      method,
      url: path,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: bytes,
    });
    const result = (await fns[role].invoke(event)) as ApiGatewayResult;
    const raw = typeof result.body === 'string' ? result.body : '';
    const text = result.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    return { status: result.statusCode ?? 200, headers: (result.headers ?? {}) as Record<string, string>, text };
  };

  return {
    bundles,
    queues,
    functions: fns,
    http,
    async stop() {
      clearInterval(sweep);
      await Promise.all(Object.values(fns).map((f) => f.stop()));
      await queues.stop();
    },
  };
}

export interface LambdaProcessesRunnerOptions {
  ingressPort: number;
  adminPort: number;
  host: string;
  /** DynamoDB to use; default: a DynamoDB Local started here, its data under `dataDir`. */
  dynamoEndpoint?: string;
  dataDir: string | undefined;
  tableName: string;
  sweepIntervalMs: number;
  /** Port of the bundled example endpoint; -1: none. */
  examplePort: number;
  register: string[];
}

/**
 * `npm start -- --lambda-processes`: the three bundled functions in a process each behind the
 * local HTTP fronts (ingress and admin as API Gateway would call them), timers through the
 * SQS/Scheduler stand-in. No native gRPC here (API Gateway carries none either).
 */
export async function startLambdaProcessesRunner(opts: LambdaProcessesRunnerOptions) {
  const { startDynamoDbLocal } = await import('./dynamodb-local.js');
  const { createTableClients, ensureTable } = await import('../store/table.js');
  const { createLambdaFront } = await import('./http-front.js');
  const { createServer: createH2Server } = await import('node:http2');
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of [...stops].reverse()) await s().catch(() => undefined);
  };
  try {
    let dynamoEndpoint = opts.dynamoEndpoint;
    let failed: Promise<string> | undefined;
    if (dynamoEndpoint === undefined) {
      const ddb = await startDynamoDbLocal({ dataDir: opts.dataDir === undefined ? undefined : join(opts.dataDir, 'dynamodb') });
      stops.push(() => ddb.stop());
      dynamoEndpoint = ddb.endpoint;
      failed = ddb.failed;
    }
    const tables = createTableClients(opts.tableName, {
      endpoint: dynamoEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await ensureTable(tables.client, opts.tableName);
    const lambdas = await startLambdaProcesses({ ddbEndpoint: dynamoEndpoint, tableName: opts.tableName, sweepIntervalMs: opts.sweepIntervalMs });
    stops.push(() => lambdas.stop());
    const refuse = (err: RestlessError) => ({
      status: err.httpStatus,
      headers: { 'content-type': 'application/json' },
      body: new TextEncoder().encode(JSON.stringify({ message: err.message })),
    });
    const serve = async (role: 'ingress' | 'admin', port: number) => {
      const server = createLambdaFront((event) => lambdas.functions[role].invoke(event) as Promise<ApiGatewayResult>, {
        maxBodyBytes: 6 * 1024 * 1024,
        refuse,
      });
      await new Promise<void>((r) => server.listen(port, opts.host, r));
      stops.push(
        () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      );
      const a = server.address();
      return `http://${opts.host}:${typeof a === 'object' && a ? a.port : port}`;
    };
    const ingressUrl = await serve('ingress', opts.ingressPort);
    const adminUrl = await serve('admin', opts.adminPort);
    const toRegister = [...opts.register];
    if (opts.examplePort >= 0) {
      const { exampleEndpoint } = await import('../../examples/example-endpoint.js');
      const { listenExample, serveEarlierExampleDeployments, warnStranded } = await import('./example-port.js');
      const { createLogger } = await import('../log.js');
      const serveExample = exampleEndpoint().http2Handler();
      const adminGet = async (path: string) => {
        const res = await lambdas.http('admin', 'GET', path);
        return { status: res.status, json: res.text ? (JSON.parse(res.text) as unknown) : undefined };
      };
      const h2 = createH2Server(serveExample);
      const examplePort = await listenExample(h2, opts.examplePort, adminGet);
      // Not awaited: it would wait for the functions' sessions, which end when their processes do.
      stops.push(async () => void h2.close());
      for (const extra of await serveEarlierExampleDeployments(serveExample, examplePort, adminGet, warnStranded(createLogger()))) {
        stops.push(async () => void extra.close());
      }
      toRegister.unshift(`http://127.0.0.1:${examplePort}`);
    }
    for (const uri of toRegister) {
      const res = await lambdas.http('admin', 'POST', '/endpoints', { uri, force: true });
      if (res.status >= 300) throw new Error(`registering ${uri} failed: ${res.status} ${res.text}`);
    }
    return { ingressUrl, adminUrl, dynamoEndpoint, tableName: opts.tableName, bundles: lambdas.bundles, failed, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
