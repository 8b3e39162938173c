/**
 * An in-process Restless core for tests: the runtime's own composition root (createRuntime) over
 * a DynamoDB Local table, a real SDK endpoint behind its Lambda handler, and kicks and timers in
 * process that a test can drop or refuse.
 */
import type * as restate from '@restatedev/restate-sdk';
import { DEFAULTS, type RuntimeConfig } from '../../lib/config.js';
import { createRuntime, type KickerFactory } from '../../lib/runtime.js';
import type { HttpHandler, HttpResponse } from '../../lib/http/types.js';
import { createLogger, silentLogger, type Logger } from '../../lib/log.js';
const testLog = process.env.TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger;
import { freshTable } from './ddb.js';
import type { TableClients } from '../../lib/store/table.js';
import { inProcessTransport, staticResolver } from './sdk.js';

export function testConfig(overrides: Partial<RuntimeConfig> = {}): RuntimeConfig {
  return { ...DEFAULTS, retry: { ...DEFAULTS.retry }, corsAllowedOrigins: ['*'], tableName: 'x', ...overrides };
}

export interface InProcessOptions {
  config?: RuntimeConfig;
  private?: string[];
  inlineWaitMs?: number;
  log?: Logger;
  deadlineArmAfterMs?: number;
  /** Share a table with another in-process runtime (a second process). */
  tables?: TableClients;
  /** What happens to kicks and timers: delivered (default), dropped, or refused with an error. */
  kicks?: 'deliver' | 'drop' | 'fail';
}

/** A kicker for tests: delivers (as the local one does), drops or refuses, and records every timer asked for. */
export function testKicker(
  kicks: { mode: 'deliver' | 'drop' | 'fail'; dropped: number },
  timers: { id: string; at: number; epoch: number; kind: string }[],
): KickerFactory {
  return (fire) => ({
    kick: async (id) => {
      if (kicks.mode === 'fail') throw new Error('kick refused (injected)');
      if (kicks.mode === 'drop') return void kicks.dropped++;
      setImmediate(() => void fire({ kind: 'kick', invocationId: id }).catch(() => undefined));
    },
    schedule: async (id, at, reason) => {
      timers.push({ id, at, epoch: reason.epoch, kind: reason.kind });
      if (kicks.mode === 'fail') throw new Error('schedule refused (injected)');
      if (kicks.mode === 'drop') return void kicks.dropped++;
      // Beyond what Node can arm (2^31 ms), the due index alone holds it, as with the local kicker.
      if (at - Date.now() > 2 ** 31 - 1) return;
      setTimeout(
        () => void fire({ kind: 'timer', invocationId: id, epoch: reason.epoch, reason: reason.kind, dueMs: at }).catch(() => undefined),
        Math.max(0, at - Date.now()),
      );
    },
  });
}

/** The runtime the Lambdas run (createRuntime), over a fresh table, with a real SDK endpoint behind its Lambda handler. */
export async function inProcessRuntime(endpoint: restate.RestateEndpoint, opts: InProcessOptions = {}) {
  const config = opts.config ?? testConfig();
  const tables = opts.tables ?? (await freshTable());
  const transport = inProcessTransport(endpoint);
  const resolver = await staticResolver(transport, { private: opts.private });
  const timers: { id: string; at: number; epoch: number; kind: string }[] = [];
  const kicks = { mode: opts.kicks ?? 'deliver', dropped: 0 };
  const rt = createRuntime({
    config,
    tables,
    resolver,
    transportFor: () => transport,
    timers: testKicker(kicks, timers),
    log: opts.log ?? testLog,
    driver: { inlineWaitMs: opts.inlineWaitMs, deadlineArmAfterMs: opts.deadlineArmAfterMs },
    // The sweep with no grace: drives whatever the due index says is due now.
    sweepGraceMs: 0,
  });
  return {
    store: rt.store,
    transport,
    ingress: rt.ingress,
    tables,
    driver: rt.driver,
    dispatcher: rt.dispatcher,
    timers,
    timer: rt.timer,
    admin: rt.invocations,
    hub: rt.hub,
    kicks,
    sweep: rt.sweep,
    config,
    runtime: rt,
  };
}

export function post(
  ingress: HttpHandler,
  path: string,
  body: unknown,
  opts: { contentType?: string; headers?: Record<string, string> } = {},
): Promise<HttpResponse> {
  const raw = typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body));
  return ingress({
    method: 'POST',
    path,
    query: new URLSearchParams(),
    headers: new Headers({ 'content-type': opts.contentType ?? 'application/json', ...(opts.headers ?? {}) }),
    body: raw,
  });
}

export function get(ingress: HttpHandler, path: string): Promise<HttpResponse> {
  return ingress({ method: 'GET', path, query: new URLSearchParams(), headers: new Headers(), body: new Uint8Array(0) });
}

export const json = (r: HttpResponse): unknown => JSON.parse(Buffer.from(r.body).toString('utf8'));

export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
