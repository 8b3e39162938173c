/**
 * Small purpose-built Restate SDK 0.8.1 services for the per-entry benchmarks (sections 4–7),
 * served over h2c by a server of our own that counts the endpoint round trips (one per attempt in
 * request/response mode) and the request bytes the runtime sends (Start + the whole journal).
 *
 *   benchEntries  unkeyed: one handler per journal entry kind (side effects, sleep, call, send…)
 *   benchState    keyed: state entries (get, set, clear, clearAll, stateKeys) on one key
 *   benchTarget   unkeyed: the callee of calls and sends
 *   benchResolver unkeyed: completes an awakeable of another invocation
 */
import * as restate from '@restatedev/restate-sdk';
import { createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';

type Api<T> = restate.ServiceApi<T>;

/** Timestamps the `sleep` handler records per tag: when its sleep is due and when the code after it ran. */
export const sleepProbes = new Map<string, { due: number; resumedAt?: number }>();

const benchTarget = restate.router({
  echo: async (_ctx: restate.Context, req: { v: string }) => req.v,
});
const benchTargetApi: Api<typeof benchTarget> = { path: 'benchTarget' };

const benchResolver = restate.router({
  resolve: async (ctx: restate.Context, req: { id: string }) => {
    ctx.resolveAwakeable(req.id, 'woken');
    return 'resolved';
  },
});
const benchResolverApi: Api<typeof benchResolver> = { path: 'benchResolver' };

const benchEntries = restate.router({
  /** No entry at all: Start + input, Output, End. */
  baseline: async () => 'ok',
  /** n side effects: each is sent with REQUIRES_ACK, then the SDK suspends until the runtime acks it. */
  effects: async (ctx: restate.Context, req: { n: number }) => {
    let sum = 0;
    for (let i = 0; i < req.n; i++) sum += await ctx.sideEffect(async () => i);
    return sum;
  },
  /** One Sleep entry. With a tag, records when it is due and when the code after it runs. */
  sleep: async (ctx: restate.Context, req: { ms: number; tag?: string }) => {
    // The SDK computes the wake-up time as Date.now() + ms inside ctx.sleep, right after this line.
    if (req.tag && !sleepProbes.has(req.tag)) sleepProbes.set(req.tag, { due: Date.now() + req.ms });
    await ctx.sleep(req.ms);
    const probe = req.tag ? sleepProbes.get(req.tag) : undefined;
    if (probe) probe.resumedAt ??= Date.now();
    return 'slept';
  },
  /** One Invoke entry (request-response call to another service). */
  call: async (ctx: restate.Context) => ctx.rpc<typeof benchTarget>(benchTargetApi).echo({ v: 'called' }),
  /** One BackgroundInvoke entry (one-way send). */
  send: async (ctx: restate.Context) => {
    ctx.send<typeof benchTarget>(benchTargetApi).echo({ v: 'sent' });
    return 'sent';
  },
  /** One BackgroundInvoke entry with an invoke time (delayed send). */
  sendDelayed: async (ctx: restate.Context, req: { ms: number }) => {
    ctx.sendDelayed<typeof benchTarget>(benchTargetApi, req.ms).echo({ v: 'delayed' });
    return 'sent';
  },
  /** Awakeable + a one-way send to benchResolver, which completes it (CompleteAwakeable). */
  awakeable: async (ctx: restate.Context) => {
    const { id, promise } = ctx.awakeable<string>();
    ctx.send<typeof benchResolver>(benchResolverApi).resolve({ id });
    return promise;
  },
  /** Takes `ms` without any journal entry: the attempt stays running (for idempotent attach). */
  slow: async (_ctx: restate.Context, req: { ms: number }) => {
    await new Promise((r) => setTimeout(r, req.ms));
    return 'slow done';
  },
});

const benchState = restate.keyedRouter({
  baseline: async () => 'ok',
  get: async (ctx: restate.KeyedContext) => (await ctx.get<number>('a')) ?? 0,
  set: async (ctx: restate.KeyedContext) => {
    ctx.set('a', 1);
    return 'set';
  },
  getSet: async (ctx: restate.KeyedContext) => {
    const v = (await ctx.get<number>('a')) ?? 0;
    ctx.set('a', v + 1);
    return v + 1;
  },
  clear: async (ctx: restate.KeyedContext) => {
    ctx.clear('a');
    return 'cleared';
  },
  clearAll: async (ctx: restate.KeyedContext) => {
    ctx.clearAll();
    return 'cleared';
  },
  stateKeys: async (ctx: restate.KeyedContext) => (await ctx.stateKeys()).length,
});

export function benchEndpoint(): restate.RestateEndpoint {
  return restate
    .endpoint()
    .bindRouter('benchEntries', benchEntries)
    .bindKeyedRouter('benchState', benchState)
    .bindRouter('benchTarget', benchTarget)
    .bindRouter('benchResolver', benchResolver);
}

/** What the runtime sent to the endpoint since the last reset. */
export interface EndpointStats {
  /** Invocation requests (`/invoke/…`), i.e. attempts: one round trip each. */
  calls: number;
  /** Request body bytes of those calls (framed protocol messages: Start + the replayed journal). */
  bytes: number;
  /** Largest single request body. */
  maxBytes: number;
  /** Calls by `service/method`. */
  byMethod: Map<string, number>;
  /** Date.now() when each call arrived. */
  arrivals: number[];
  reset(): void;
}

export interface BenchServer {
  uri: string;
  stats: EndpointStats;
  close(): Promise<void>;
}

/** Serves benchEndpoint() over h2c on a free port of 127.0.0.1, counting what arrives. */
export async function startBenchServer(): Promise<BenchServer> {
  const handler = benchEndpoint().http2Handler();
  const stats: EndpointStats = {
    calls: 0,
    bytes: 0,
    maxBytes: 0,
    byMethod: new Map(),
    arrivals: [],
    reset() {
      this.calls = 0;
      this.bytes = 0;
      this.maxBytes = 0;
      this.byMethod = new Map();
      this.arrivals = [];
    },
  };
  const server: Http2Server = createServer((req: Http2ServerRequest, res: Http2ServerResponse) => {
    const path = req.url ?? '';
    if (path.startsWith('/invoke/')) {
      stats.calls++;
      stats.arrivals.push(Date.now());
      const method = path.slice('/invoke/'.length);
      stats.byMethod.set(method, (stats.byMethod.get(method) ?? 0) + 1);
      let size = 0;
      // The SDK pipes the raw stream (it never reads `req`); another 'data' listener sees the same chunks.
      req.stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        stats.bytes += chunk.length;
      });
      req.stream.on('end', () => {
        stats.maxBytes = Math.max(stats.maxBytes, size);
      });
    }
    handler(req, res);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  return {
    uri: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
