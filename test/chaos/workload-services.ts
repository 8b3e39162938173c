/**
 * The chaos workload: real SDK 0.8.1 router services. Each handler execution (one attempt)
 * appends what it did to the run's record file in this process, so the harness can check
 * exactly-once from the outside:
 *
 *   start  an attempt reached the handler          fx    a side effect's function ran (value v)
 *   seen   the handler continued with value v       done  the handler returned
 *   awk    an awakeable id to resolve from the ingress
 *
 * Every request carries `run` (which record file) and `tag` (who the harness thinks this is);
 * children get derived tags (`<tag>/b`, `<tag>/send`), so a kill can be traced down the tree.
 */
import * as restate from '@restatedev/restate-sdk';
import { appendRecord, type RecordBody } from './records.js';

export interface Tagged {
  run: string;
  tag: string;
}

/** One attempt's identity: attempts of one invocation share the tag, never the attempt id. */
function attemptOf(req: Tagged): { att: string; log(record: RecordBody): void } {
  const att = Math.random().toString(36).slice(2, 10);
  const log = (record: RecordBody) => appendRecord(req.run, { ...record, tag: req.tag, att, at: Date.now() });
  log({ k: 'start' });
  return { att, log };
}

/** A side effect that records every execution and the value the handler went on with. */
async function recordedEffect(ctx: restate.Context, attempt: ReturnType<typeof attemptOf>, step: number): Promise<number> {
  const v = await ctx.sideEffect(async () => {
    const value = Math.floor(Math.random() * 1e9);
    attempt.log({ k: 'fx', step, v: value });
    return value;
  });
  attempt.log({ k: 'seen', step, v });
  return v;
}

const counter = restate.keyedRouter({
  add: async (ctx: restate.KeyedContext, _key: string, req: Tagged): Promise<number> => {
    const attempt = attemptOf(req);
    const n = ((await ctx.get<number>('n')) ?? 0) + 1;
    ctx.set('n', n);
    attempt.log({ k: 'done', v: n });
    return n;
  },
  get: async (ctx: restate.KeyedContext): Promise<number> => (await ctx.get<number>('n')) ?? 0,
});
const counterApi: restate.ServiceApi<typeof counter> = { path: 'chaosCounter' };

const fifo = restate.keyedRouter({
  /** Appends `client:seq`; one client sends its seqs one after the other. */
  append: async (ctx: restate.KeyedContext, _key: string, req: Tagged & { client: string; seq: number }): Promise<number> => {
    const attempt = attemptOf(req);
    const list = (await ctx.get<string[]>('list')) ?? [];
    list.push(`${req.client}:${req.seq}`);
    ctx.set('list', list);
    attempt.log({ k: 'done', v: list.length });
    return list.length;
  },
  list: async (ctx: restate.KeyedContext): Promise<string[]> => (await ctx.get<string[]>('list')) ?? [],
});

const work = restate.router({
  sleep: async (ctx: restate.Context, req: Tagged & { ms: number }): Promise<string> => {
    const attempt = attemptOf(req);
    await ctx.sleep(req.ms);
    attempt.log({ k: 'done', v: req.ms });
    return `slept ${req.ms}`;
  },
  /** `n` recorded side effects, with a durable sleep between them (suspend, resume, replay). */
  effects: async (ctx: restate.Context, req: Tagged & { n: number; sleepMs?: number }): Promise<string> => {
    const attempt = attemptOf(req);
    const values: number[] = [];
    for (let step = 0; step < req.n; step++) {
      values.push(await recordedEffect(ctx, attempt, step));
      if (req.sleepMs && step < req.n - 1) await ctx.sleep(req.sleepMs);
    }
    attempt.log({ k: 'done', v: values.join(',') });
    return values.join(',');
  },
  /** A → B → C: a side effect at each level, then a call one level down. */
  chain: async (ctx: restate.Context, req: Tagged & { depth: number }): Promise<string> => {
    const attempt = attemptOf(req);
    const mine = await recordedEffect(ctx, attempt, 0);
    const below = req.depth > 0 ? await ctx.rpc<typeof work>(workApi).chain({ run: req.run, tag: `${req.tag}/${req.depth}`, depth: req.depth - 1 }) : '';
    attempt.log({ k: 'done', v: mine });
    return below ? `${mine}>${below}` : String(mine);
  },
  /** A one-way (or delayed) increment of a counter key; the child's tag is `<tag>/send`. */
  send: async (ctx: restate.Context, req: Tagged & { key: string; delayMs?: number }): Promise<string> => {
    const attempt = attemptOf(req);
    await recordedEffect(ctx, attempt, 0);
    const child: Tagged = { run: req.run, tag: `${req.tag}/send` };
    if (req.delayMs) ctx.sendDelayed<typeof counter>(counterApi, req.delayMs).add(req.key, child);
    else ctx.send<typeof counter>(counterApi).add(req.key, child);
    attempt.log({ k: 'done', v: 'sent' });
    return 'sent';
  },
  /** An awakeable resolved by another invocation (a one-way call to `resolve`). */
  awaitService: async (ctx: restate.Context, req: Tagged): Promise<string> => {
    const attempt = attemptOf(req);
    const { id, promise } = ctx.awakeable<string>();
    ctx.send<typeof work>(workApi).resolve({ run: req.run, tag: `${req.tag}/resolve`, id, value: `by-service:${req.tag}` });
    const v = await promise;
    attempt.log({ k: 'done', v });
    return v;
  },
  /** An awakeable the harness resolves through the ingress (the id is published as an `awk` record). */
  awaitIngress: async (ctx: restate.Context, req: Tagged): Promise<string> => {
    const attempt = attemptOf(req);
    const { id, promise } = ctx.awakeable<string>();
    attempt.log({ k: 'awk', v: id });
    const v = await promise;
    attempt.log({ k: 'done', v });
    return v;
  },
  resolve: async (ctx: restate.Context, req: Tagged & { id: string; value: string }): Promise<string> => {
    const attempt = attemptOf(req);
    ctx.resolveAwakeable(req.id, req.value);
    attempt.log({ k: 'done', v: req.value });
    return 'resolved';
  },
});
const workApi: restate.ServiceApi<typeof work> = { path: 'chaosWork' };

export function workloadEndpoint(): restate.RestateEndpoint {
  return restate.endpoint().bindRouter('chaosWork', work).bindKeyedRouter('chaosCounter', counter).bindKeyedRouter('chaosFifo', fifo);
}
