/** Spans → X-Ray subsegments: what the daemon receives for spans under a Lambda trace header. */
import { createSocket } from 'node:dgram';
import { context as otelContext, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { INVOCATION_ID_ATTR } from '../../lib/log.js';
import { enableLambdaTracing, withLambdaTrace } from '../../lib/tracing/lambda-tracing.js';
import { annotationKey, parseTraceHeader, XRAY_DAEMON_HEADER, type XRaySubsegment } from '../../lib/tracing/xray.js';

const ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const FUNCTION_SEGMENT = '53995c3f42cd8ad8';
const SAMPLED = { _X_AMZN_TRACE_ID: `Root=${ROOT};Parent=${FUNCTION_SEGMENT};Sampled=1` };

afterEach(() => {
  trace.disable();
  otelContext.disable();
});

/** Runs `fn` as one Lambda invocation with the given environment, collecting what would reach the daemon. */
async function invoke(env: NodeJS.ProcessEnv, fn: () => Promise<void>): Promise<XRaySubsegment[]> {
  const docs: XRaySubsegment[] = [];
  enableLambdaTracing({}, (d) => docs.push(d));
  await withLambdaTrace(fn, env)();
  return docs;
}

describe('parseTraceHeader', () => {
  it.each([
    {
      case: 'a sampled header',
      header: SAMPLED._X_AMZN_TRACE_ID,
      expected: { traceId: '5759e988bd862e3fe1be46a994272793', spanId: FUNCTION_SEGMENT, traceFlags: 1, isRemote: true },
    },
    {
      case: 'an unsampled header',
      header: `Root=${ROOT};Parent=${FUNCTION_SEGMENT};Sampled=0`,
      expected: { traceId: '5759e988bd862e3fe1be46a994272793', spanId: FUNCTION_SEGMENT, traceFlags: 0, isRemote: true },
    },
    { case: 'no parent', header: `Root=${ROOT};Sampled=1`, expected: undefined },
    { case: 'a garbled root', header: `Root=1-zz;Parent=${FUNCTION_SEGMENT};Sampled=1`, expected: undefined },
    { case: 'nothing', header: undefined, expected: undefined },
  ])('reads $case', ({ header, expected }) => {
    expect(parseTraceHeader(header)).toEqual(expected);
  });
});

describe('X-Ray tracing on Lambda', () => {
  it('sends a span with restate.invocation.id as a subsegment of the function segment, its child below it', async () => {
    const tracer = trace.getTracer('restless');
    const docs = await invoke(SAMPLED, async () => {
      await tracer.startActiveSpan('invoke greeter/Greet', { attributes: { [INVOCATION_ID_ATTR]: 'inv_1abc', 'rpc.service': 'greeter' } }, async (span) => {
        await Promise.resolve();
        tracer.startSpan('endpoint call').end();
        span.setAttribute('restless.outcome', 'completed');
        span.end();
      });
    });

    expect(docs.map((d) => d.name)).toEqual(['endpoint call', 'invoke greeter/Greet']);
    const [child, parent] = docs as [XRaySubsegment, XRaySubsegment];
    expect(parent).toMatchObject({
      type: 'subsegment',
      trace_id: ROOT,
      parent_id: FUNCTION_SEGMENT,
      annotations: { restate_invocation_id: 'inv_1abc', rpc_service: 'greeter', restless_outcome: 'completed' },
      metadata: { otel: { 'restate.invocation.id': 'inv_1abc', 'rpc.service': 'greeter', 'restless.outcome': 'completed' } },
    });
    expect(parent.id).toMatch(/^[0-9a-f]{16}$/);
    expect(parent.end_time).toBeGreaterThanOrEqual(parent.start_time);
    expect(child).toMatchObject({ trace_id: ROOT, parent_id: parent.id });
    expect(parent.fault).toBeUndefined();
  });

  it('marks a failed span as a fault with its message', async () => {
    const docs = await invoke(SAMPLED, async () => {
      const span = trace.getTracer('restless').startSpan('invoke greeter/Greet');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'table unavailable' });
      span.end();
    });
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ fault: true, cause: { exceptions: [{ message: 'table unavailable' }] } });
  });

  it.each([
    { case: 'an unsampled invocation', env: { _X_AMZN_TRACE_ID: `Root=${ROOT};Parent=${FUNCTION_SEGMENT};Sampled=0` } },
    { case: 'no trace header (the local runner)', env: {} },
  ])('records nothing for $case', async ({ env }) => {
    const docs = await invoke(env, async () => {
      trace.getTracer('restless').startActiveSpan('invoke greeter/Greet', (span) => span.end());
    });
    expect(docs).toEqual([]);
  });

  it('keeps two concurrent invocations apart (each span under its own header)', async () => {
    const docs: XRaySubsegment[] = [];
    enableLambdaTracing({}, (d) => docs.push(d));
    const run = (root: string) =>
      withLambdaTrace(
        async () => {
          await new Promise((r) => setTimeout(r, 5));
          trace.getTracer('restless').startSpan(root).end();
        },
        { _X_AMZN_TRACE_ID: `Root=${root};Parent=${FUNCTION_SEGMENT};Sampled=1` },
      )();
    await Promise.all([run('1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa'), run('1-00000002-bbbbbbbbbbbbbbbbbbbbbbbb')]);
    expect(docs.map((d) => [d.name, d.trace_id]).sort()).toEqual([
      ['1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa', '1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa'],
      ['1-00000002-bbbbbbbbbbbbbbbbbbbbbbbb', '1-00000002-bbbbbbbbbbbbbbbbbbbbbbbb'],
    ]);
  });

  it('sends each subsegment to the daemon at AWS_XRAY_DAEMON_ADDRESS as one UDP datagram with the daemon header', async () => {
    const daemon = createSocket('udp4');
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    const received = new Promise<string>((resolve) => daemon.once('message', (m) => resolve(m.toString('utf8'))));
    try {
      const { port } = daemon.address();
      expect(enableLambdaTracing({ AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}` })).toBe(true);
      await withLambdaTrace(async () => {
        trace
          .getTracer('restless')
          .startSpan('invoke greeter/Greet', { attributes: { [INVOCATION_ID_ATTR]: 'inv_udp' } })
          .end();
      }, SAMPLED)();
      const datagram = await received;
      expect(datagram.startsWith(XRAY_DAEMON_HEADER)).toBe(true);
      expect(JSON.parse(datagram.slice(XRAY_DAEMON_HEADER.length))).toMatchObject({
        type: 'subsegment',
        trace_id: ROOT,
        parent_id: FUNCTION_SEGMENT,
        annotations: { restate_invocation_id: 'inv_udp' },
      });
    } finally {
      daemon.close();
    }
  });

  it('stays off without the daemon (no provider registered)', () => {
    expect(enableLambdaTracing({})).toBe(false);
  });
});

describe('annotationKey', () => {
  it('keeps only what X-Ray indexes', () => {
    expect(annotationKey('restate.invocation.id')).toBe('restate_invocation_id');
  });
});
