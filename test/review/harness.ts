/**
 * Review harness: the real store, driver, dispatcher and ingress over DynamoDB Local with a clock
 * the test moves (store and driver share it), and kicks/timers that are only recorded, never
 * delivered (unless `deliverKicks`), so every interleaving is driven by hand (driveById, sweep).
 */
import type * as restate from '@restatedev/restate-sdk';
import { CompletionHub, Dispatcher } from '../../lib/driver/dispatcher.js';
import { Driver, type Kicker } from '../../lib/driver/driver.js';
import { InvocationAdminService } from '../../lib/admin/invocations.js';
import { createIngressHandler } from '../../lib/ingress/ingress.js';
import { silentLogger } from '../../lib/log.js';
import { InvocationStore } from '../../lib/store/invocation-store.js';
import type { TableClients } from '../../lib/store/table.js';
import { createTimerHandler } from '../../lib/timers/timer-handler.js';
import type { RuntimeConfig } from '../../lib/config.js';
import { freshTable } from '../support/ddb.js';
import { testConfig } from '../support/runtime.js';
import { inProcessTransport, staticResolver } from '../support/sdk.js';

export interface Clock {
  /** Added to the real clock (ms). */
  skew: number;
  now(): number;
}

export async function reviewRuntime(endpoint: restate.RestateEndpoint, opts: { config?: RuntimeConfig; tables?: TableClients; clock?: Clock; deliverKicks?: boolean } = {}) {
  const clock: Clock = opts.clock ?? {
    skew: 0,
    now() {
      return Date.now() + this.skew;
    },
  };
  const now = () => clock.now();
  const config = opts.config ?? testConfig({ inactivityTimeoutMs: 1_000, abortTimeoutMs: 1_000 });
  const tables = opts.tables ?? (await freshTable('review'));
  const store = new InvocationStore(tables, now);
  const transport = inProcessTransport(endpoint);
  const resolver = await staticResolver(transport);
  const hub = new CompletionHub();
  const kicks: string[] = [];
  const timers: { id: string; at: number; kind: string }[] = [];
  const kicker: Kicker = {
    kick: async (id) => {
      kicks.push(id);
      if (opts.deliverKicks) setImmediate(() => void timerHandler({ kind: 'kick', invocationId: id }).catch(() => undefined));
    },
    schedule: async (id, at, reason) => void timers.push({ id, at, kind: reason.kind }),
  };
  const log = silentLogger;
  const driver = new Driver({ store, resolver, transportFor: () => transport, config, kicker, log, listener: hub, now, inlineWaitMs: 0, deadlineArmAfterMs: 60_000 });
  const sweepHandler = createTimerHandler({ driver, store, log, now, sweepGraceMs: 0 });
  const timerHandler = createTimerHandler({ driver, store, log, now });
  const dispatcher = new Dispatcher({ store, driver, hub, config, log, now, startInBackground: (id) => kicker.kick(id) });
  const ingress = createIngressHandler({ resolver, dispatcher, config, log, store, kicker, now });
  const admin = new InvocationAdminService({ store, kicker, listener: hub, log, abortAttempt: (id) => driver.abortAttempt(id) });
  return { store, driver, dispatcher, ingress, admin, tables, clock, kicks, timers, config, resolver, transport, sweep: () => sweepHandler({ kind: 'sweep' }) };
}

export type ReviewRuntime = Awaited<ReturnType<typeof reviewRuntime>>;
