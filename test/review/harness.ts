/**
 * Review harness: the real store, driver, dispatcher and ingress over DynamoDB Local with a clock
 * the test moves (store and driver share it), and kicks/timers that are only recorded, never
 * delivered (unless `deliverKicks`), so every interleaving is driven by hand (driveById, sweep).
 */
import type * as restate from '@restatedev/restate-sdk';
import { createRuntime } from '../../lib/runtime.js';
import { silentLogger } from '../../lib/log.js';
import type { TableClients } from '../../lib/store/table.js';
import type { RuntimeConfig } from '../../lib/config.js';
import { freshTable } from '../support/ddb.js';
import { testConfig } from '../support/runtime.js';
import { inProcessTransport, staticResolver } from '../support/sdk.js';

export interface Clock {
  /** Added to the real clock (ms). */
  skew: number;
  now(): number;
}

export async function reviewRuntime(
  endpoint: restate.RestateEndpoint,
  opts: { config?: RuntimeConfig; tables?: TableClients; clock?: Clock; deliverKicks?: boolean } = {},
) {
  const clock: Clock = opts.clock ?? {
    skew: 0,
    now() {
      return Date.now() + this.skew;
    },
  };
  const now = () => clock.now();
  const config = opts.config ?? testConfig({ inactivityTimeoutMs: 1_000, abortTimeoutMs: 1_000 });
  const tables = opts.tables ?? (await freshTable('review'));
  const transport = inProcessTransport(endpoint);
  const resolver = await staticResolver(transport);
  const kicks: string[] = [];
  const timers: { id: string; at: number; kind: string }[] = [];
  const rt = createRuntime({
    config,
    tables,
    resolver,
    transportFor: () => transport,
    now,
    log: silentLogger,
    driver: { inlineWaitMs: 0, deadlineArmAfterMs: 60_000 },
    sweepGraceMs: 0,
    timers: (fire) => ({
      kick: async (id) => {
        kicks.push(id);
        if (opts.deliverKicks) setImmediate(() => void fire({ kind: 'kick', invocationId: id }).catch(() => undefined));
      },
      schedule: async (id, at, reason) => void timers.push({ id, at, kind: reason.kind }),
    }),
  });
  return {
    store: rt.store,
    driver: rt.driver,
    dispatcher: rt.dispatcher,
    ingress: rt.ingress,
    admin: rt.invocations,
    tables,
    clock,
    kicks,
    timers,
    config,
    resolver,
    transport,
    sweep: rt.sweep,
  };
}

export type ReviewRuntime = Awaited<ReturnType<typeof reviewRuntime>>;
