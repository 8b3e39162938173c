/** The driver's own span, through the runtime, reaches the X-Ray exporter as it would on Lambda. */
import { context as otelContext, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableLambdaTracing, withLambdaTrace } from '../../lib/tracing/lambda-tracing.js';
import type { XRaySubsegment } from '../../lib/tracing/xray.js';
import { inProcessRuntime, json, post } from '../support/runtime.js';
import { testServicesEndpoint } from '../support/test-services.js';

const ROOT = '1-6762a3f0-0123456789abcdef01234567';
const FUNCTION_SEGMENT = 'aaaaaaaaaaaaaaaa';

let env: Awaited<ReturnType<typeof inProcessRuntime>>;
const docs: XRaySubsegment[] = [];
beforeAll(async () => {
  env = await inProcessRuntime(testServicesEndpoint());
  enableLambdaTracing({}, (d) => docs.push(d));
});
afterAll(() => {
  trace.disable();
  otelContext.disable();
});

describe('driver spans on Lambda', () => {
  it('sends the attempt span with restate.invocation.id as a subsegment of the function segment', async () => {
    const call = withLambdaTrace(() => post(env.ingress, '/chainC/c', { request: { v: 'x' } }), {
      _X_AMZN_TRACE_ID: `Root=${ROOT};Parent=${FUNCTION_SEGMENT};Sampled=1`,
    });
    const res = await call();
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ response: 'c(x)' });
    const id = res.headers['x-restate-id'];
    expect(id).toMatch(/^inv_/);

    const span = docs.find((d) => d.annotations['restate_invocation_id'] === id);
    expect(span).toMatchObject({
      type: 'subsegment',
      name: 'invoke chainC/c',
      trace_id: ROOT,
      parent_id: FUNCTION_SEGMENT,
      annotations: { rpc_service: 'chainC', rpc_method: 'c', restless_outcome: 'completed' },
      metadata: { otel: { 'restate.invocation.id': id } },
    });
  });
});
