/**
 * An in-process Restless core for tests: DynamoDB Local table, the real driver, dispatcher and
 * ingress, and a real SDK endpoint behind its Lambda handler. Timers and kicks run in process.
 */
import type * as restate from '@restatedev/restate-sdk';
import { DEFAULTS, type RuntimeConfig } from '../../lib/config.js';
import { CompletionHub, Dispatcher } from '../../lib/driver/dispatcher.js';
import { Driver, type Kicker } from '../../lib/driver/driver.js';
import { InvocationAdminService } from '../../lib/admin/invocations.js';
import { createIngressHandler } from '../../lib/ingress/ingress.js';
import type { HttpHandler, HttpResponse } from '../../lib/http/types.js';
import { createLogger, silentLogger, type Logger } from '../../lib/log.js';
const testLog = process.env.TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger;
import { InvocationStore } from '../../lib/store/invocation-store.js';
import { createTimerHandler } from '../../lib/timers/timer-handler.js';
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

export async function inProcessRuntime(endpoint: restate.RestateEndpoint, opts: InProcessOptions = {}) {
  const log = opts.log ?? testLog;
  const config = opts.config ?? testConfig();
  const tables = opts.tables ?? (await freshTable());
  const store = new InvocationStore(tables);
  const transport = inProcessTransport(endpoint);
  const resolver = await staticResolver(transport, { private: opts.private });
  const hub = new CompletionHub();
  const ref: { timer?: ReturnType<typeof createTimerHandler> } = {};
  const timers: { id: string; at: number; epoch: number; kind: string }[] = [];
  const kicks = { mode: opts.kicks ?? 'deliver', dropped: 0 };
  const kicker: Kicker = {
    kick: async (id) => {
      if (kicks.mode === 'fail') throw new Error('kick refused (injected)');
      if (kicks.mode === 'drop') return void kicks.dropped++;
      setImmediate(() => void ref.timer?.({ kind: 'kick', invocationId: id }).catch(() => undefined));
    },
    schedule: async (id, at, reason) => {
      timers.push({ id, at, epoch: reason.epoch, kind: reason.kind });
      if (kicks.mode === 'fail') throw new Error('schedule refused (injected)');
      if (kicks.mode === 'drop') return void kicks.dropped++;
      setTimeout(() => void ref.timer?.({ kind: 'timer', invocationId: id, epoch: reason.epoch, reason: reason.kind, dueMs: at }).catch(() => undefined), Math.max(0, at - Date.now()));
    },
  };
  const driver = new Driver({ store, resolver, transportFor: () => transport, config, kicker, log, listener: hub, inlineWaitMs: opts.inlineWaitMs, deadlineArmAfterMs: opts.deadlineArmAfterMs });
  ref.timer = createTimerHandler({ driver, store, log });
  /** The periodic sweep with no grace: drives whatever the due index says is due now. */
  const sweep = createTimerHandler({ driver, store, log, sweepGraceMs: 0 });
  const dispatcher = new Dispatcher({ store, driver, hub, config, log, startInBackground: (id) => kicker.kick(id) });
  const ingress = createIngressHandler({ resolver, dispatcher, config, log, store, kicker });
  const admin = new InvocationAdminService({ store, kicker, listener: hub, log, abortAttempt: (id) => driver.abortAttempt(id) });
  return { store, transport, ingress, tables, driver, dispatcher, timers, timer: ref.timer, admin, hub, kicks, sweep: () => sweep({ kind: 'sweep' }), config };
}

export function post(ingress: HttpHandler, path: string, body: unknown, opts: { contentType?: string; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
  const raw = typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body));
  return ingress({ method: 'POST', path, query: new URLSearchParams(), headers: new Headers({ 'content-type': opts.contentType ?? 'application/json', ...(opts.headers ?? {}) }), body: raw });
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
