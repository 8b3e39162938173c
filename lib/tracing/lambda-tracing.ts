/**
 * Tracing on Lambda: the X-Ray tracer registered as OpenTelemetry's global provider when the
 * X-Ray daemon is there (active tracing), and each invocation run under Lambda's trace header.
 * Locally neither applies and the API stays a no-op.
 */
import { context as otelContext, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalContextManager } from './context-manager.js';
import { parseTraceHeader, udpDaemonSink, XRayTracerProvider, type SegmentSink } from './xray.js';

/** Registers the X-Ray tracer if `AWS_XRAY_DAEMON_ADDRESS` is set (or a sink is given); true if it did. */
export function enableLambdaTracing(env: NodeJS.ProcessEnv = process.env, sink?: SegmentSink): boolean {
  const address = env['AWS_XRAY_DAEMON_ADDRESS'];
  if (!sink && !address) return false;
  otelContext.setGlobalContextManager(new AsyncLocalContextManager());
  trace.setGlobalTracerProvider(new XRayTracerProvider({ sink: sink ?? udpDaemonSink(address!) }));
  return true;
}

/**
 * Runs a handler under the invocation's trace header (`_X_AMZN_TRACE_ID`, set by the runtime
 * before each invocation), so its spans become subsegments of the function's segment.
 */
export function withLambdaTrace<A extends unknown[], R>(handler: (...args: A) => Promise<R>, env: NodeJS.ProcessEnv = process.env) {
  return (...args: A): Promise<R> => {
    const parent = parseTraceHeader(env['_X_AMZN_TRACE_ID']);
    if (!parent) return handler(...args);
    return otelContext.with(trace.setSpanContext(ROOT_CONTEXT, parent), () => handler(...args));
  };
}
