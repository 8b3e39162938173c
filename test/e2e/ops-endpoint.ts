/**
 * An SDK endpoint for the operations tests (CLI, console): invocations that stay in every state an
 * operator inspects. `ops/nap` sleeps (waits for a timer), `ops/flaky` fails every attempt,
 * `vault/hold` keeps its key's lock waiting for an awakeable (so later calls queue in the inbox),
 * after setting some state. Served with the SDK's `listen()` on the port given as first argument.
 */
import * as restate from '@restatedev/restate-sdk';

const ops = restate.router({
  nap: async (ctx: restate.Context, req: { ms: number }): Promise<string> => {
    await ctx.sleep(req.ms);
    return 'rested';
  },
  flaky: async (): Promise<string> => {
    throw new Error('flaky on purpose');
  },
  quick: async (_ctx: restate.Context, req: { n: number }): Promise<number> => req.n * 2,
});

const vault = restate.keyedRouter({
  hold: async (ctx: restate.KeyedContext, _key: string): Promise<string> => {
    ctx.set('note', 'x'.repeat(100));
    ctx.set('count', 1);
    const { promise } = ctx.awakeable<string>();
    return await promise;
  },
});

const port = Number(process.argv[2] ?? 9082);
void restate.endpoint().bindRouter('ops', ops).bindKeyedRouter('vault', vault).listen(port);
