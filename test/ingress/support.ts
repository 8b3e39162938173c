/**
 * An in-process ingress for the gRPC tests: the example endpoint (protobuf `org.example.Greeter`,
 * routers `greeter`/`counter`/`sleeper`) plus a dotted router `org.example.Dotted` and a private
 * router `secret`, DynamoDB Local, the ingress Lambda handler behind the API Gateway emulation
 * and, on demand, the local ingress server on a free port.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULTS, type RuntimeConfig } from '../../lib/config.js';
import { eventFromRequest, responseFromResult } from '../../lib/http/apigw.js';
import { apiGatewayHandler } from '../../lib/http/lambda.js';
import type { HttpResponse } from '../../lib/http/types.js';
import type { CallDeps } from '../../lib/ingress/call.js';
import { createIngressServer, type IngressServer } from '../../lib/local/ingress-server.js';
import { silentLogger } from '../../lib/log.js';
import { DescriptorSchema } from '../../lib/registry/schema.js';
import type { InvocationStore } from '../../lib/store/invocation-store.js';
import { createRuntime } from '../../lib/runtime.js';
import { exampleEndpoint } from '../../examples/example-endpoint.js';
import { greeterRouter } from '../../examples/services.js';
import { freshTable } from '../support/ddb.js';
import { inProcessTransport, staticResolver } from '../support/sdk.js';

export const BUF = join(process.cwd(), 'node_modules/.bin/buf');

const config: RuntimeConfig = { ...DEFAULTS, retry: { ...DEFAULTS.retry }, corsAllowedOrigins: ['*'], tableName: 'x' };

export type Ingress = Awaited<ReturnType<typeof createTestIngress>>;

/** The ingress core and its Lambda handler; `serve()` adds the local server on a free port. */
export async function createTestIngress(opts: { maxMessageBytes?: number } = {}) {
  const tables = await freshTable('grpc');
  const endpoint = exampleEndpoint().bindRouter('org.example.Dotted', greeterRouter).bindRouter('secret', greeterRouter);
  const transport = inProcessTransport(endpoint);
  const resolver = await staticResolver(transport, { private: ['secret'] });
  // The registry stores the repaired set (canonical google/protobuf files); so must this stand-in.
  resolver.endpoint.descriptorSet = DescriptorSchema.decode(resolver.endpoint.descriptorSet).toBinary();
  const rt = createRuntime({ config, tables, resolver, transportFor: () => transport, timers: 'local', log: silentLogger });
  const deps: CallDeps & { store: InvocationStore } = { resolver, dispatcher: rt.dispatcher, config, log: silentLogger, store: rt.store, kicker: rt.kicker };
  const lambda = apiGatewayHandler(rt.ingress);
  const servers: IngressServer[] = [];
  return {
    deps,
    lambda,
    /** One request through the Lambda handler, as API Gateway would send it. */
    async viaLambda(req: { method?: string; path: string; headers: Record<string, string>; body?: Uint8Array | string }): Promise<HttpResponse> {
      const body = typeof req.body === 'string' ? Buffer.from(req.body) : (req.body ?? new Uint8Array(0));
      const event = eventFromRequest({ method: req.method ?? 'POST', url: req.path, headers: req.headers, body });
      return responseFromResult(await lambda(event, { awsRequestId: 'test', getRemainingTimeInMillis: () => 30_000 }));
    },
    async serve(serverOpts: { maxMessageBytes?: number } = {}): Promise<string> {
      const server = createIngressServer({ lambda, deps, maxMessageBytes: serverOpts.maxMessageBytes ?? opts.maxMessageBytes });
      servers.push(server);
      const port = await server.listen(0);
      return `http://127.0.0.1:${port}`;
    },
    async close(): Promise<void> {
      rt.localTimers?.stop();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

export interface BufResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `buf curl` (exit code = gRPC code << 3 for RPC failures). */
export async function bufCurl(args: string[]): Promise<BufResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(BUF, ['curl', ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The example's schema as a Buf image (`buf build`, offline), for calls without reflection. */
export async function buildSchema(): Promise<string> {
  const out = join(await mkdtemp(join(tmpdir(), 'restless-grpc-')), 'schema.binpb');
  await promisify(execFile)(BUF, ['build', '-o', out], { timeout: 30_000 });
  return out;
}

/** A gRPC frame: flags, u32 length, payload. */
export function frame(payload: Uint8Array, flags = 0, declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, payload]);
}

/** GreetRequest{name} in protobuf binary (field 1, length-delimited). */
export function greetRequest(name: string): Buffer {
  const bytes = Buffer.from(name);
  return Buffer.from([0x0a, bytes.length, ...bytes]);
}

/** Splits a gRPC-web body into its frames. */
export function webFrames(body: Uint8Array): { flags: number; payload: Buffer }[] {
  const out: { flags: number; payload: Buffer }[] = [];
  const b = Buffer.from(body);
  let i = 0;
  while (i + 5 <= b.length) {
    const len = b.readUInt32BE(i + 1);
    out.push({ flags: b[i]!, payload: b.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}
