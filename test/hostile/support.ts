/**
 * The local stack in the test process, put together as the runner does it: the runtime (real
 * driver, registry and DynamoDB Local), the bundled example endpoint over h2c (real SDK),
 * registered through discovery, the ingress server (HTTP/1.1 + h2c) and the admin front, each
 * with the timeouts a test asks for. Plus raw-socket helpers for clients that misbehave.
 */
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { adminErrorResponse } from '../../lib/admin/admin-api.js';
import { configFromEnv, type RuntimeConfig } from '../../lib/config.js';
import { defaultH2cPool } from '../../lib/endpoint/h2c.js';
import { apiGatewayHandler } from '../../lib/http/lambda.js';
import { MAX_ADMIN_BODY_BYTES } from '../../lib/http/limits.js';
import { createLambdaFront, listen } from '../../lib/local/http-front.js';
import { createIngressServer } from '../../lib/local/ingress-server.js';
import type { ServerTimeouts } from '../../lib/local/server-timeouts.js';
import { silentLogger, type Logger } from '../../lib/log.js';
import { createRuntime, type Runtime } from '../../lib/runtime.js';
import { ensureTable } from '../../lib/store/table.js';
import { exampleEndpoint } from '../../examples/example-endpoint.js';
import { localDynamoConfig } from '../support/ddb.js';

export interface Stack {
  runtime: Runtime;
  ingressUrl: string;
  adminUrl: string;
  ingressPort: number;
  adminPort: number;
  close(): Promise<void>;
}

async function serveExample(): Promise<{ uri: string; server: Http2Server }> {
  const server = createH2Server(exampleEndpoint().http2Handler());
  const port = await listen(server, 0);
  return { uri: `http://127.0.0.1:${port}`, server };
}

/** Starts the stack on free ports; `config` overrides the runtime configuration. */
export async function startStack(opts: { timeouts?: ServerTimeouts; config?: Partial<RuntimeConfig>; log?: Logger } = {}): Promise<Stack> {
  const tableName = `hostile-${Math.random().toString(36).slice(2, 10)}`;
  const runtime = createRuntime({
    config: { ...configFromEnv({}), tableName, ...opts.config },
    dynamo: localDynamoConfig(),
    timers: 'local',
    log: opts.log ?? silentLogger,
  });
  await ensureTable(runtime.tables.client, tableName);
  const example = await serveExample();
  await runtime.registry.register({ uri: example.uri });
  const ingress = createIngressServer({
    lambda: apiGatewayHandler(runtime.ingress),
    deps: { ...runtime, kicker: runtime.localTimers },
    timeouts: opts.timeouts,
  });
  const ingressPort = await ingress.listen(0);
  const admin = createLambdaFront(apiGatewayHandler(runtime.admin), {
    timeouts: opts.timeouts,
    maxBodyBytes: MAX_ADMIN_BODY_BYTES,
    refuse: adminErrorResponse,
  });
  const adminPort = await listen(admin, 0);
  return {
    runtime,
    ingressUrl: `http://127.0.0.1:${ingressPort}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    ingressPort,
    adminPort,
    async close() {
      runtime.localTimers?.stop();
      await ingress.close();
      admin.closeAllConnections();
      await new Promise<void>((r) => admin.close(() => r()));
      await defaultH2cPool.close();
      await new Promise<void>((r) => example.server.close(() => r()));
    },
  };
}

/** A raw TCP connection that records what it received and when it was closed. */
export interface RawClient {
  socket: Socket;
  received(): string;
  /** Resolves with the milliseconds from connect to close. */
  closed: Promise<number>;
  isClosed(): boolean;
}

export function rawConnect(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let done = false;
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((r) =>
      socket.once('close', () => {
        done = true;
        r(Date.now() - started);
      }),
    );
    socket.once('connect', () => resolve({ socket, received: () => data, closed, isClosed: () => done }));
    socket.once('error', reject);
  });
}

/** Writes `text` one byte every `everyMs` until the socket closes; returns a stop function. */
export function trickle(client: RawClient, text: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (client.isClosed() || i >= text.length) return clearInterval(timer);
    client.socket.write(text[i++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

/** Resolves with `value` after `ms`. */
export function after<T>(ms: number, value: T): Promise<T> {
  return new Promise((r) => setTimeout(() => r(value), ms));
}
