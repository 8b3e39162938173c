/**
 * The local runner behind `npm start`: DynamoDB Local (data kept in a folder) or an existing
 * DynamoDB, the same Lambda handlers behind Node HTTP servers that play API Gateway (ingress,
 * admin), the in-process timer service, and the bundled example endpoint, registered at start-up.
 * Several runners may share one table: each one then plays one Lambda instance.
 */
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { eventFromRequest, responseFromResult, resultFromResponse, type ApiGatewayEvent, type ApiGatewayResult } from '../http/apigw.js';
import { jsonResponse } from '../http/types.js';
import type { LambdaContextLike } from '../http/lambda.js';
import { ENV } from '../config.js';
import { defaultH2cPool } from '../endpoint/h2c.js';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { adminErrorResponse } from '../admin/admin-api.js';
import { MAX_ADMIN_BODY_BYTES } from '../http/limits.js';
import { createLambdaFront, listen } from './http-front.js';
import { createIngressServer } from './ingress-server.js';
import { listenExample, serveEarlierExampleDeployments, warnStranded } from './example-port.js';
import { RESTORE_EVERY_MS } from '../timers/local-kicker.js';
import { FAULTS_ENV, installFaults, parseFaultSpec } from './faults.js';
import { DEFAULT_SERVER_TIMEOUTS, type ServerTimeouts } from './server-timeouts.js';

export interface LocalOptions {
  ingressPort: number;
  adminPort: number;
  /** Where DynamoDB Local keeps its data; undefined = in memory (nothing survives a restart). */
  dataDir: string | undefined;
  /** Port of DynamoDB Local; 0 = any free port. */
  dynamoPort: number;
  /** Join this DynamoDB (Local or AWS) instead of starting DynamoDB Local; it is never stopped. */
  dynamoEndpoint?: string;
  /** Default: RESTLESS_TABLE_NAME, else `restless`. */
  tableName?: string;
  /** How often the sweep looks for lapsed leases (what the EventBridge rule does on AWS); default 60 s. */
  sweepIntervalMs?: number;
  /** Port of the bundled example endpoint; -1 = do not start it. */
  examplePort: number;
  /** Endpoint URIs to register at start-up. */
  register: string[];
  host: string;
  /** Limits for slow and idle clients on both ports; default DEFAULT_SERVER_TIMEOUTS. */
  timeouts?: ServerTimeouts;
}

export interface LocalRunner {
  ingressUrl: string;
  adminUrl: string;
  dynamoEndpoint: string;
  tableName: string;
  /**
   * Settles, with the reason, if a process the runner depends on ends while it runs (DynamoDB Local
   * killed or crashed): every request would fail from then on, so the runner should stop.
   */
  failed?: Promise<string>;
  stop(): Promise<void>;
}

type Handler = (event: ApiGatewayEvent, context: LambdaContextLike) => Promise<ApiGatewayResult>;

/** Calls an admin route through the admin Lambda handler, as the runner does at start-up. */
async function adminCall(handler: Handler, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  const event = eventFromRequest({ method, url: path, headers: { 'content-type': 'application/json' }, body: bytes });
  const res = responseFromResult(await handler(event, { awsRequestId: 'local-startup' }));
  const text = Buffer.from(res.body).toString('utf8');
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

export async function startLocal(opts: LocalOptions): Promise<LocalRunner> {
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const stop of [...stops].reverse()) await stop();
  };
  try {
    // Parsed before anything starts, so a malformed spec is a start-up error.
    const faultSpec = process.env[FAULTS_ENV] ? parseFaultSpec(process.env[FAULTS_ENV]) : undefined;
    let dynamoEndpoint = opts.dynamoEndpoint;
    let failed: Promise<string> | undefined;
    if (dynamoEndpoint === undefined) {
      const ddb: DynamoDbLocal = await startDynamoDbLocal({
        port: opts.dynamoPort || undefined,
        dataDir: opts.dataDir === undefined ? undefined : join(resolve(opts.dataDir), 'dynamodb'),
      });
      stops.push(() => ddb.stop());
      dynamoEndpoint = ddb.endpoint;
      failed = ddb.failed;
    }

    // The handlers read their configuration from the environment, as on Lambda.
    process.env.RESTLESS_LOCAL = '1';
    const tableName = opts.tableName ?? (process.env[ENV.tableName] || 'restless');
    process.env[ENV.tableName] = tableName;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamoEndpoint;
    process.env.AWS_REGION ??= 'us-east-1';
    // DynamoDB Local takes any credentials; a real DynamoDB gets the SDK's own credential chain.
    if (isLoopback(dynamoEndpoint)) {
      process.env.AWS_ACCESS_KEY_ID ??= 'local';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    }

    const { ensureTable } = await import('../store/table.js');
    const { sharedRuntime } = await import('../runtime.js');
    const runtime = sharedRuntime();
    await ensureTable(runtime.tables.client, runtime.tables.tableName);

    const ingress = (await import('../../functions/ingress.js')).handler as unknown as Handler;
    const admin = (await import('../../functions/admin.js')).handler as unknown as Handler;
    const timer = (await import('../../functions/timer.js')).handler as unknown as (e: unknown, c: LambdaContextLike) => Promise<unknown>;
    if (runtime.localTimers) {
      runtime.localTimers.fire = (event) => timer(event, { awsRequestId: 'local-timer' });
      stops.push(() => runtime.localTimers?.stop());
      const timers = runtime.localTimers;
      await timers.restore();
      // Wake-ups beyond the kicker's horizon live only in the index: pick them up as they come near.
      const rearm = setInterval(() => void timers.restore().catch(() => undefined), RESTORE_EVERY_MS);
      rearm.unref();
      stops.push(() => clearInterval(rearm));
      // What the EventBridge rule does on AWS: sweep for lapsed leases periodically (and at start-up).
      // One sweep at a time: on a slow table, overlapping sweeps would pile up without end.
      let sweeping = false;
      const sweep = () => {
        if (sweeping) return;
        sweeping = true;
        void timer({ kind: 'sweep' }, { awsRequestId: 'local-sweep' })
          .catch(() => undefined)
          .finally(() => (sweeping = false));
      };
      sweep();
      const interval = setInterval(sweep, opts.sweepIntervalMs ?? 60_000);
      stops.push(() => clearInterval(interval));
    }

    // HTTP/1.1 and h2c on one port: native gRPC and reflection in process, the rest through the Lambda handler.
    const timeouts = opts.timeouts ?? DEFAULT_SERVER_TIMEOUTS;
    const ingressServer = createIngressServer({ lambda: ingress, deps: { ...runtime, kicker: runtime.localTimers }, timeouts });
    const ingressPort = await ingressServer.listen(opts.ingressPort, opts.host);
    stops.push(() => ingressServer.close());
    // The ports are taken first (a port in use fails start-up before any discovery), but the
    // admin `/health` answers 503 until the endpoints below are registered.
    let ready = false;
    const adminUntilReady: Handler = (event, context) =>
      ready || event.rawPath !== '/health'
        ? admin(event, context)
        : Promise.resolve(resultFromResponse(jsonResponse(503, { message: 'starting: registering endpoints', restate_code: null })));
    const adminServer: Server = createLambdaFront(adminUntilReady, { timeouts, maxBodyBytes: MAX_ADMIN_BODY_BYTES, refuse: adminErrorResponse });
    const adminPort = await listen(adminServer, opts.adminPort, opts.host);
    stops.push(
      () =>
        new Promise<void>((r) => {
          adminServer.closeAllConnections?.();
          adminServer.close(() => r());
        }),
    );

    const toRegister = [...opts.register];
    if (opts.examplePort >= 0) {
      const { exampleEndpoint } = await import('../../examples/example-endpoint.js');
      const serveExample = exampleEndpoint().http2Handler();
      const adminGet = (path: string) => adminCall(admin, 'GET', path);
      const h2: Http2Server = createH2Server(serveExample);
      const examplePort = await listenExample(h2, opts.examplePort, adminGet);
      stops.push(() => new Promise<void>((r) => h2.close(() => r())));
      // Earlier example deployments with invocations pinned to them: served on their own ports too.
      for (const extra of await serveEarlierExampleDeployments(serveExample, examplePort, adminGet, warnStranded(runtime.log))) {
        stops.push(() => new Promise<void>((r) => extra.close(() => r())));
      }
      // Runs before the line above: h2.close() waits until our pooled client sessions to it end.
      stops.push(() => defaultH2cPool.close());
      toRegister.unshift(`http://127.0.0.1:${examplePort}`);
    }
    for (const uri of toRegister) {
      const res = await adminCall(admin, 'POST', '/endpoints', { uri, force: true });
      if (res.status >= 300) throw new Error(`registering ${uri} failed: ${res.status} ${JSON.stringify(res.json)}`);
    }
    // Healthy from here on: the example (and every --register endpoint) answers.
    ready = true;
    // Faults start once the runner is up: start-up itself is not what they test.
    if (faultSpec) {
      const faults = installFaults(runtime, faultSpec);
      stops.push(() => faults.stop('shutdown'));
    }
    return {
      ingressUrl: `http://${opts.host}:${ingressPort}`,
      adminUrl: `http://${opts.host}:${adminPort}`,
      dynamoEndpoint,
      tableName,
      failed,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
