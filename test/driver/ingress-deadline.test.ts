/** The ingress deadline counts from when API Gateway received the request (cold start included), not from when the handler ran. */
import { describe, expect, it } from 'vitest';
import { eventFromRequest, type ApiGatewayEvent } from '../../lib/http/apigw.js';
import { apiGatewayHandler } from '../../lib/http/lambda.js';
import { requestStart } from '../../lib/ingress/call.js';
import { testServicesEndpoint } from '../support/test-services.js';
import { inProcessRuntime, testConfig } from '../support/runtime.js';

function slowCall(receivedAgoMs: number): ApiGatewayEvent {
  const event = eventFromRequest({
    method: 'POST',
    url: '/effects/slow',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ request: { ms: 3_000 } })),
  });
  return { ...event, requestContext: { ...event.requestContext, timeEpoch: Date.now() - receivedAgoMs } };
}

describe('requestStart', () => {
  it.each([
    { case: 'API Gateway time in the past', received: 1_000, now: 5_000, start: 1_000 },
    { case: 'no time from the host', received: undefined, now: 5_000, start: 5_000 },
    { case: 'a time ahead of our clock (skew)', received: 6_000, now: 5_000, start: 5_000 },
    { case: 'a time that is not a number', received: Number.NaN, now: 5_000, start: 5_000 },
  ])('starts the clock at $case', ({ received, now, start }) => {
    expect(requestStart(received, now)).toBe(start);
  });
});

describe('ingress deadline behind API Gateway', () => {
  it('answers deadline_exceeded with the invocation id once the time since API Gateway received the request runs out', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { config: testConfig({ ingressDeadlineMs: 6_000 }) });
    const handler = apiGatewayHandler(env.ingress);
    // 4 s already spent before the handler ran (a cold start): 2 s left, less the hand-off margin.
    const started = Date.now();
    const late = await handler(slowCall(4_000), { awsRequestId: 'r1' });
    const elapsed = Date.now() - started;
    expect(late.statusCode).toBe(408);
    expect(JSON.parse(Buffer.from(late.body ?? '', 'base64').toString())).toMatchObject({ code: 'deadline_exceeded' });
    expect(late.headers?.['x-restate-id']).toMatch(/^inv_/);
    expect(elapsed).toBeLessThan(2_900);
  });

  it('waits for the result when the request just arrived', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { config: testConfig({ ingressDeadlineMs: 6_000 }) });
    const res = await apiGatewayHandler(env.ingress)(slowCall(0), { awsRequestId: 'r2' });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(Buffer.from(res.body ?? '', 'base64').toString())).toEqual({ response: 'finished' });
  });
});
