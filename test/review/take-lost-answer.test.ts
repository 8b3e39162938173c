/**
 * Regression (found in review of the durable core): a take whose answer is lost after it landed is retried by the AWS SDK (timeouts and
 * connection resets are retryable); the retry finds the lease it just set and fails its condition,
 * returning the stored item — which carries the take's own token. InvocationStore.take only checks
 * the token when the error itself surfaces as transient, not when it surfaces as a condition
 * failure (accept does check it there: existing()). The driver is told "not taken", so nobody runs
 * the attempt it owns until its lease lapses (inactivity + abort + 5 s: two minutes by default); a
 * synchronous caller times out meanwhile.
 */
import { describe, expect, it } from 'vitest';
import type { DocumentClient } from '../../lib/store/dynamo/document-client.js';
import { InvocationStatus } from '../../lib/store/invocation-store.js';
import { json, post } from '../support/runtime.js';
import { testServicesEndpoint } from '../support/test-services.js';
import { reviewRuntime } from './harness.js';

/** The next UpdateItem whose input mentions `matching` is sent twice, as the client's retry does after a lost answer; the caller sees the second answer. */
function loseFirstAnswerAndRetry(doc: DocumentClient, matching: string): { hits: number } {
  const state = { hits: 0, armed: true };
  doc.use(async (call, next) => {
    const input = JSON.stringify(call.input, (_k, v: unknown) => (v instanceof Uint8Array ? '' : v));
    if (!state.armed || call.operation !== 'UpdateItemCommand' || !input.includes(matching)) return next();
    state.armed = false;
    state.hits++;
    await next(); // landed; its answer is lost
    return next(); // the client's retry
  });
  return state;
}

describe('take whose answer was lost and retried by the SDK', () => {
  it('drives the invocation it took instead of leaving it leased by nobody', async () => {
    const env = await reviewRuntime(testServicesEndpoint());
    const res = await post(env.ingress, '/dev.restate.Ingress/Invoke', { service: 'chainC', method: 'c', argument: { request: { v: 'x' } } });
    const id = (json(res) as { id: string }).id;
    const lost = loseFirstAnswerAndRetry(env.tables.doc, `inv#${id}`);
    const outcome = await env.driver.driveById(id);
    expect(lost.hits).toBe(1);
    const rec = await env.store.get(id);
    // completed — before the fix: skipped ("leased until …"), epoch 1, leased for the full lease by nobody.
    expect({ outcome: outcome.kind, status: rec?.status }).toEqual({ outcome: 'completed', status: InvocationStatus.Completed });
  });
});
