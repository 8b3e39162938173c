/**
 * Router (JSON) example services for tests and demos, written with the SDK 0.8.1 router API:
 *
 * - `greeter` (unkeyed): `greet({name})` → `"Hello <name>"`;
 * - `counter` (keyed): `add(key, {delta?})` adds `delta` (default 1) to state `count` and returns
 *   the new count; `get(key)` returns the count;
 * - `sleeper` (unkeyed): `sleep({millis})` sleeps durably, then returns `"slept <millis>"`.
 *
 * Ingress JSON of a router call is `{"key"?: …, "request": …}` → `{"response": …}`.
 */
import * as restate from '@restatedev/restate-sdk';

export const greeterRouter = restate.router({
  greet: async (_ctx: restate.Context, request: { name?: string }): Promise<string> => `Hello ${request?.name}`,
});

export const counterRouter = restate.keyedRouter({
  add: async (ctx: restate.KeyedContext, _key: string, request?: { delta?: number }): Promise<number> => {
    const count = ((await ctx.get<number>('count')) ?? 0) + (request?.delta ?? 1);
    ctx.set('count', count);
    return count;
  },
  get: async (ctx: restate.KeyedContext): Promise<number> => (await ctx.get<number>('count')) ?? 0,
});

export const sleeperRouter = restate.router({
  sleep: async (ctx: restate.Context, request: { millis?: number }): Promise<string> => {
    const millis = request?.millis ?? 0;
    await ctx.sleep(millis);
    return `slept ${millis}`;
  },
});

/** An endpoint serving `greeter`, `counter` and `sleeper`. */
export function servicesEndpoint(): restate.RestateEndpoint {
  return restate.endpoint().bindRouter('greeter', greeterRouter).bindKeyedRouter('counter', counterRouter).bindRouter('sleeper', sleeperRouter);
}
