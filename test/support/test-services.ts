/** Real SDK 0.8.1 services that exercise every journal entry kind. Counters live in this process. */
import * as restate from '@restatedev/restate-sdk';

export const probes = {
  sideEffectRuns: new Map<string, number>(),
  attempts: new Map<string, number>(),
  compensations: [] as string[],
};

const bump = (m: Map<string, number>, k: string) => {
  const n = (m.get(k) ?? 0) + 1;
  m.set(k, n);
  return n;
};

type Api<T> = restate.ServiceApi<T>;

const chainC = restate.router({ c: async (_ctx: restate.Context, req: { v: string }) => `c(${req.v})` });
const chainB = restate.router({
  b: async (ctx: restate.Context, req: { v: string }) => `b(${await ctx.rpc<typeof chainC>(chainCApi).c({ v: req.v })})`,
});
const chainA = restate.router({
  a: async (ctx: restate.Context, req: { v: string }) => `a(${await ctx.rpc<typeof chainB>(chainBApi).b({ v: req.v })})`,
  /** Waits on a child that sleeps for a minute: a pending Invoke entry. */
  parentOfSleeper: async (ctx: restate.Context, req: { tag: string }) => ctx.rpc<typeof failing>(failingApi).longSleep({ tag: req.tag }),
  /** Calls a service that fails terminally: the failure comes back to the caller. */
  callFailing: async (ctx: restate.Context) => {
    try {
      await ctx.rpc<typeof failing>(failingApi).terminal();
      return 'no error';
    } catch (e) {
      return `caught: ${(e as Error).message}`;
    }
  },
});
const chainCApi: Api<typeof chainC> = { path: 'chainC' };
const chainBApi: Api<typeof chainB> = { path: 'chainB' };

const recorder = restate.keyedRouter({
  record: async (ctx: restate.KeyedContext, _key: string, req: { value: string }) => {
    const list = (await ctx.get<string[]>('list')) ?? [];
    list.push(req.value);
    ctx.set('list', list);
    return list.length;
  },
  list: async (ctx: restate.KeyedContext) => (await ctx.get<string[]>('list')) ?? [],
  /** Holds the key's lock while it sleeps. */
  hold: async (ctx: restate.KeyedContext, _key: string, req: { ms: number }) => {
    await ctx.sleep(req.ms);
    return 'held';
  },
});
const recorderApi: Api<typeof recorder> = { path: 'recorder' };

const sender = restate.router({
  send: async (ctx: restate.Context, req: { key: string; value: string; delayMs?: number }) => {
    if (req.delayMs) ctx.sendDelayed<typeof recorder>(recorderApi, req.delayMs).record(req.key, { value: req.value });
    else ctx.send<typeof recorder>(recorderApi).record(req.key, { value: req.value });
    return 'sent';
  },
});

const awakeResolver = restate.router({
  resolve: async (ctx: restate.Context, req: { id: string; value: string }) => {
    ctx.resolveAwakeable(req.id, req.value);
    return 'resolved';
  },
});
const awakeResolverApi: Api<typeof awakeResolver> = { path: 'awakeResolver' };

const waiter = restate.router({
  /** Another service resolves the awakeable. */
  viaService: async (ctx: restate.Context, req: { value: string }) => {
    const { id, promise } = ctx.awakeable<string>();
    ctx.send<typeof awakeResolver>(awakeResolverApi).resolve({ id, value: req.value });
    return `got ${await promise}`;
  },
  /** The test resolves it through the ingress: the id is published in recorder/<key>. */
  viaIngress: async (ctx: restate.Context, req: { key: string }) => {
    const { id, promise } = ctx.awakeable<string>();
    ctx.send<typeof recorder>(recorderApi).record(req.key, { value: id });
    try {
      return `got ${await promise}`;
    } catch (e) {
      return `rejected: ${(e as Error).message}`;
    }
  },
});

const effects = restate.router({
  /** n side effects, then fail the first attempt: the retry replays them from the journal. */
  flaky: async (ctx: restate.Context, req: { tag: string; n: number }) => {
    let sum = 0;
    for (let i = 0; i < req.n; i++) sum += await ctx.sideEffect(async () => bump(probes.sideEffectRuns, req.tag));
    if (bump(probes.attempts, req.tag) === 1) throw new Error('boom on the first attempt');
    return sum;
  },
  /** A side effect that takes a while: the attempt is running (not suspended) meanwhile. */
  slow: async (ctx: restate.Context, req: { ms: number }) => {
    await ctx.sideEffect(() => new Promise<number>((r) => setTimeout(() => r(1), req.ms)));
    return 'finished';
  },
  /** Works outside the journal for a while, then calls chainC: the call is an effect of the first attempt's write. */
  slowThenCall: async (ctx: restate.Context, req: { ms: number; v: string }) => {
    await new Promise((r) => setTimeout(r, req.ms));
    return ctx.rpc<typeof chainC>(chainCApi).c({ v: req.v });
  },
  race: async (ctx: restate.Context) => {
    await restate.CombineablePromise.race([ctx.sleep(30), ctx.sleep(60_000)]);
    return 'first sleep won';
  },
});

const failing = restate.router({
  always: async () => {
    throw new Error('always fails');
  },
  terminal: async () => {
    throw new restate.TerminalError('nope', { errorCode: 9 });
  },
  /** Sleeps long enough to be killed or cancelled; compensates on cancellation. */
  longSleep: async (ctx: restate.Context, req: { tag: string }) => {
    try {
      await ctx.sleep(60_000);
      return 'woke';
    } catch (e) {
      probes.compensations.push(`${req.tag}: ${(e as Error).message}`);
      throw e;
    }
  },
});
const failingApi: Api<typeof failing> = { path: 'failing' };

export function testServicesEndpoint(): restate.RestateEndpoint {
  return restate
    .endpoint()
    .bindRouter('chainA', chainA)
    .bindRouter('chainB', chainB)
    .bindRouter('chainC', chainC)
    .bindKeyedRouter('recorder', recorder)
    .bindRouter('sender', sender)
    .bindRouter('awakeResolver', awakeResolver)
    .bindRouter('waiter', waiter)
    .bindRouter('effects', effects)
    .bindRouter('failing', failing);
}
