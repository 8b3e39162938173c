/**
 * Fault injection: the process driving an invocation dies at every step (before and after each
 * DynamoDB write, and after the endpoint answered but before anything was stored). A fresh
 * process resumes it through the sweep. Invariants: exactly one result, the state change applied
 * exactly once, side effects run once per journaled entry.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../lib/log.js';
import { createRuntime } from '../../lib/runtime.js';
import { createTableClients, type TableClients } from '../../lib/store/table.js';
import type { DocumentClient } from '../../lib/store/dynamo/document-client.js';
import type { EndpointTransport } from '../../lib/endpoint/types.js';
import { freshTable, localDynamoConfig } from '../support/ddb.js';
import { splitFrames } from '../../lib/protocol/framing.js';
import { inProcessTransport, staticResolver } from '../support/sdk.js';
import { json, post, testConfig } from '../support/runtime.js';
import { probes, testServicesEndpoint } from '../support/test-services.js';

class Crash extends Error {}

/** The second process runs ten minutes later (its clock): every lease has lapsed. */
const SKEW_MS = 10 * 60_000;

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'TransactWriteItemsCommand', 'DeleteItemCommand']);

/** Makes the k-th write of this client crash the process, before or after it reached DynamoDB. */
function crashAtWrite(doc: DocumentClient, k: number, when: 'before' | 'after', crashed: { value: boolean }) {
  let writes = 0;
  doc.use(async (call, next) => {
    if (crashed.value) throw new Crash('process is dead');
    const op = call.operation;
    if (!WRITES.has(op)) return next();
    writes++;
    if (writes === k && when === 'before') {
      crashed.value = true;
      throw new Crash(`crash before write ${k} (${op})`);
    }
    const out = await next();
    if (writes === k && when === 'after') {
      crashed.value = true;
      throw new Crash(`crash after write ${k} (${op})`);
    }
    return out;
  });
}

async function runtimeOn(tables: TableClients, transport: EndpointTransport, clockSkewMs: number, crashed: { value: boolean }, crashAfterCall = false) {
  const config = testConfig({ ingressDeadlineMs: 10_000, retry: { initialIntervalMs: 10, factor: 2, maxIntervalMs: 100, maxAttempts: undefined } });
  const now = () => Date.now() + clockSkewMs;
  const alive = () => !crashed.value;
  const requests: Uint8Array[] = [];
  const guarded: EndpointTransport = {
    call: async (req) => {
      if (crashed.value) throw new Crash('process is dead');
      requests.push(req.body);
      const out = await transport.call(req);
      if (crashAfterCall) {
        // The endpoint did its work and answered; the process dies before storing anything.
        crashed.value = true;
        throw new Crash('crash mid endpoint call');
      }
      return out;
    },
  };
  const rt = createRuntime({
    config,
    tables,
    resolver: await staticResolver(transport),
    transportFor: () => guarded,
    now,
    log: process.env.TEST_LOG && clockSkewMs > 0 ? createLogger({ level: 'debug' }) : silentLogger,
    // A dead process delivers nothing.
    timers: (fire) => ({
      kick: async (id) => void setImmediate(() => alive() && void fire({ kind: 'kick', invocationId: id }).catch(() => undefined)),
      schedule: async (id, at, reason) =>
        void setTimeout(
          () => alive() && void fire({ kind: 'timer', invocationId: id, epoch: reason.epoch, reason: reason.kind, dueMs: at }).catch(() => undefined),
          Math.max(0, at - now()),
        ),
    }),
  });
  return { store: rt.store, ingress: rt.ingress, timer: rt.timer, dispatcher: rt.dispatcher, requests };
}

const transport = inProcessTransport(testServicesEndpoint());

type Step = { k: number; when: 'before' | 'after' | 'mid-call' };
const steps: Step[] = [...[1, 2, 3].flatMap((k) => (['before', 'after'] as const).map((when) => ({ k, when }))), { k: 0, when: 'mid-call' }];

describe('fault injection: a fresh driver resumes after a crash at every step', () => {
  it.each(steps)('keyed state change: crash $when write $k', async ({ k, when }) => {
    const base = await freshTable('faults');
    const key = `k${k}${when}`;
    // First process: crashes at the chosen step.
    const crashed = { value: false };
    const doomed = createTableClients(base.tableName, localDynamoConfig());
    crashAtWrite(doomed.doc, when === 'mid-call' ? Number.POSITIVE_INFINITY : k, when === 'mid-call' ? 'before' : when, crashed);
    const first = await runtimeOn(doomed, transport, 0, crashed, when === 'mid-call');
    const res = await post(first.ingress, '/recorder/record', { key, request: { value: 'once' } });
    expect(crashed.value).toBe(true);
    const id = res.headers['x-restate-id'];
    // Second process, ten minutes later: every lease has lapsed; the sweep takes over.
    const healthy = { value: false };
    const second = await runtimeOn(base, transport, SKEW_MS, healthy);
    await second.timer({ kind: 'sweep' });
    if (id === undefined) {
      // Crashed before the accept write: nothing exists, nothing ran.
      expect(crashed.value).toBe(true);
    } else {
      const waited = await second.dispatcher.waitForResult(id, Date.now() + SKEW_MS + 10_000);
      expect(waited.kind).toBe('result');
      const rec = await second.store.get(id);
      expect(rec?.status).toBe('completed');
    }
    const list = json(await post(second.ingress, '/recorder/list', { key })) as { response: string[] };
    // Exactly once when accepted; never half-applied.
    expect(list.response.length).toBeLessThanOrEqual(1);
    if (id !== undefined) expect(list.response).toEqual(['once']);
  });

  it.each(steps)('side effects and a retry: crash $when write $k', async ({ k, when }) => {
    const base = await freshTable('faults');
    const tag = `fx${k}${when}`;
    const crashed = { value: false };
    const doomed = createTableClients(base.tableName, localDynamoConfig());
    crashAtWrite(doomed.doc, when === 'mid-call' ? Number.POSITIVE_INFINITY : k, when === 'mid-call' ? 'before' : when, crashed);
    const first = await runtimeOn(doomed, transport, 0, crashed, when === 'mid-call');
    const res = await post(first.ingress, '/effects/flaky', { request: { tag, n: 2 } });
    expect(crashed.value).toBe(true);
    const id = res.headers['x-restate-id'];
    const second = await runtimeOn(base, transport, SKEW_MS, { value: false });
    await second.timer({ kind: 'sweep' });
    if (id === undefined) return;
    const waited = await second.dispatcher.waitForResult(id, Date.now() + SKEW_MS + 10_000);
    expect(waited.kind).toBe('result');
    // The last replay the endpoint saw holds each side effect exactly once.
    const lastReplay = splitFrames(second.requests.at(-1) ?? first.requests.at(-1)!);
    expect(lastReplay.filter((f) => f.type === 0xfc01)).toHaveLength(2);
    // A side effect reruns only if the crash lost it before it was journaled.
    expect(probes.sideEffectRuns.get(tag)).toBeGreaterThanOrEqual(2);
    expect(probes.sideEffectRuns.get(tag)).toBeLessThanOrEqual(3);
  });
});
