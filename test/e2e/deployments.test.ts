/**
 * Versioned deployments end to end: real SDK 0.8.1 endpoints v1 and v2 of one service (h2c, at
 * different addresses), the real registry and runtime on DynamoDB Local. An invocation parked on
 * v1 finishes on v1 after v2 is registered: across a suspension, a runtime restart, and another
 * runtime (process) finishing it; new calls go to v2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as restate from '@restatedev/restate-sdk';
import { createRuntime, type Runtime } from '../../lib/runtime.js';
import type { HttpResponse } from '../../lib/http/types.js';
import { ensureTable } from '../../lib/store/table.js';
import { localDynamoConfig } from '../support/ddb.js';
import { eventually, get, json, post, testConfig } from '../support/runtime.js';
import { startH2cEndpoint, type H2cEndpoint } from '../registry/support.js';
import { createLogger, silentLogger } from '../../lib/log.js';

/** Awakeable ids the handlers hand out, by tag (the endpoints run in this process). */
const awakeables = new Map<string, string>();

const v1 = restate.router({
  park: async (ctx: restate.Context, req: { tag: string }) => {
    const { id, promise } = ctx.awakeable<string>();
    awakeables.set(req.tag, id);
    return `v1 got ${await promise}`;
  },
  nap: async (ctx: restate.Context) => {
    await ctx.sleep(3_000);
    return 'v1 napped';
  },
  onlyV1: async () => 'v1 only',
  hello: async () => 'v1 hello',
});
/** v2 journals something else first: replaying a v1 journal on it would fail. */
const v2 = restate.router({
  park: async (ctx: restate.Context, req: { tag: string }) => {
    await ctx.sideEffect(async () => 'v2 marker');
    const { id, promise } = ctx.awakeable<string>();
    awakeables.set(req.tag, id);
    return `v2 got ${await promise}`;
  },
  nap: async (ctx: restate.Context) => {
    await ctx.sideEffect(async () => 'v2 marker');
    await ctx.sleep(3_000);
    return 'v2 napped';
  },
  hello: async () => 'v2 hello',
});
const keyedV3 = restate.keyedRouter({ hello: async () => 'v3 keyed' });

const ADMIN = (rt: Runtime, method: string, path: string, body?: unknown): Promise<HttpResponse> => {
  const url = new URL(path, 'http://admin.test');
  return rt.admin({
    method,
    path: url.pathname,
    query: url.searchParams,
    headers: new Headers({ 'content-type': 'application/json' }),
    body: body === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(body)),
  });
};

const text = (r: HttpResponse) => json(r) as { response?: string; id?: string; message?: string };

describe('an invocation finishes on the deployment it started on', () => {
  let e1: H2cEndpoint;
  let e2: H2cEndpoint;
  let e3: H2cEndpoint;
  const runtimes: Runtime[] = [];
  const tableName = `deploy-${Date.now()}`;

  const runtime = async (): Promise<Runtime> => {
    const rt = createRuntime({
      config: testConfig({ tableName }),
      dynamo: localDynamoConfig(),
      timers: 'local',
      log: process.env.TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger,
    });
    runtimes.push(rt);
    await ensureTable(rt.tables.client, tableName);
    return rt;
  };

  beforeAll(async () => {
    e1 = await startH2cEndpoint(restate.endpoint().bindRouter('versioned', v1));
    e2 = await startH2cEndpoint(restate.endpoint().bindRouter('versioned', v2));
    e3 = await startH2cEndpoint(restate.endpoint().bindKeyedRouter('versioned', keyedV3));
  });
  afterAll(async () => {
    for (const rt of runtimes) rt.localTimers?.stop();
    await Promise.all([e1, e2, e3].map((e) => e?.close()));
  });

  it('pins, moves new calls to v2, refuses an incompatible v3 and a delete while pinned, and finishes v1 work on v1', async () => {
    const first = await runtime();
    const reg1 = await ADMIN(first, 'POST', '/endpoints', { uri: e1.uri });
    expect(reg1.status).toBe(201);
    const v1Id = (json(reg1) as { id: string }).id;

    // Two invocations park on v1: one on an awakeable, one in a sleep.
    const parked = text(
      await post(first.ingress, '/dev.restate.Ingress/Invoke', { service: 'versioned', method: 'park', argument: { request: { tag: 'a' } } }),
    ).id!;
    const napping = text(await post(first.ingress, '/dev.restate.Ingress/Invoke', { service: 'versioned', method: 'nap', argument: { request: {} } })).id!;
    await eventually(async () =>
      (await first.store.get(parked))?.status === 'suspended' && (await first.store.get(napping))?.status === 'suspended' ? true : undefined,
    );

    // v2 is registered the normal way; v3 (the service now keyed) is refused.
    const reg2 = await ADMIN(first, 'POST', '/endpoints', { uri: e2.uri });
    expect(reg2.status).toBe(201);
    const v2Id = (json(reg2) as { id: string }).id;
    const reg3 = await ADMIN(first, 'POST', '/endpoints', { uri: e3.uri });
    expect(reg3.status).toBe(409);
    expect(text(reg3).message).toMatch(/versioned/);
    // New calls go to v2; a method only v1 has is gone for them.
    expect(text(await post(first.ingress, '/versioned/hello', { request: {} })).response).toBe('v2 hello');
    expect((await post(first.ingress, '/versioned/onlyV1', { request: {} })).status).toBe(404);

    // The pins are visible, and keep v1 from being deleted.
    const status = (await first.admin({
      method: 'GET',
      path: `/invocations/${parked}`,
      query: new URLSearchParams(),
      headers: new Headers(),
      body: new Uint8Array(),
    })) as HttpResponse;
    expect(json(status)).toMatchObject({ deployment_id: v1Id, pinned: true });
    const listing = json(await ADMIN(first, 'GET', '/endpoints')) as { endpoints?: { id: string; pinned_invocations?: number }[] };
    expect(listing.endpoints?.find((e) => e.id === v1Id)?.pinned_invocations).toBe(2);
    expect(listing.endpoints?.find((e) => e.id === v2Id)?.pinned_invocations).toBe(0);
    expect((await ADMIN(first, 'DELETE', `/endpoints/${v1Id}`)).status).toBe(409);

    // Restart: the first runtime is gone; a new one re-arms the sleep from the table, on v1.
    first.localTimers?.stop();
    const restarted = await runtime();
    await restarted.localTimers?.restore();
    const napped = await eventually(async () => {
      const r = await restarted.store.get(napping);
      return r?.status === 'completed' ? r : undefined;
    }, 15_000);
    expect(Buffer.from((napped.result as { value: Uint8Array }).value).toString()).toContain('v1 napped');

    // Another runtime (another process) resolves the awakeable and finishes the invocation, on v1.
    const other = await runtime();
    expect((await post(other.ingress, '/dev.restate.Awakeables/Resolve', { id: awakeables.get('a'), json_result: 'late' })).status).toBe(200);
    const out = await eventually(async () => {
      const r = await get(other.ingress, `/restate/invocation/${parked}/output`);
      return r.status === 200 ? r : undefined;
    }, 15_000);
    expect(text(out).response).toBe('v1 got late');

    // Drained: v1 can go.
    expect(await other.store.countPinned(v1Id)).toBe(0);
    expect((await ADMIN(other, 'DELETE', `/endpoints/${v1Id}`)).status).toBe(202);
  });
});
