/**
 * OpenTelemetry spans → AWS X-Ray, without a collector layer. With active tracing, Lambda runs
 * the X-Ray daemon next to the function (UDP, `AWS_XRAY_DAEMON_ADDRESS`) and puts the trace
 * header of each invocation in `_X_AMZN_TRACE_ID`:
 *
 * ```
 *  _X_AMZN_TRACE_ID = Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1
 *        trace id ─────┘ (OTel: 5759e988bd862e3fe1be46a994272793)   └ the function's segment
 *  span "invoke greeter/Greet" ─▶ {"type":"subsegment","trace_id":…,"parent_id":"53995c3f42cd8ad8",
 *                                  "annotations":{"restate_invocation_id":"inv_…"}, …} ─UDP─▶ daemon
 * ```
 *
 * Each span is sent as an independent subsegment when it ends (one small datagram, no batching:
 * a frozen Lambda must not hold spans back). Spans under an unsampled or missing header record
 * nothing. Attribute names X-Ray cannot index (it allows letters, digits and `_`) become
 * annotations with `_` for every other character; all attributes also go to the metadata as is.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import {
  context as otelContext,
  INVALID_SPAN_CONTEXT,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/** The X-Ray daemon's datagram header line. */
export const XRAY_DAEMON_HEADER = '{"format": "json", "version": 1}\n';

/** An X-Ray subsegment document (the fields this exporter writes). */
export interface XRaySubsegment {
  type: 'subsegment';
  name: string;
  id: string;
  trace_id: string;
  parent_id: string;
  start_time: number;
  end_time: number;
  namespace?: 'remote';
  fault?: true;
  cause?: { exceptions: { message: string; type?: string }[] };
  annotations: Record<string, string | number | boolean>;
  metadata: { otel: Record<string, AttributeValue> };
}

/** `Root=1-…;Parent=…;Sampled=1` → the span context Lambda's segment stands for; undefined if absent or garbled. */
export function parseTraceHeader(header: string | undefined): SpanContext | undefined {
  if (!header) return undefined;
  const fields = Object.fromEntries(header.split(';').map((kv) => kv.trim().split('=', 2) as [string, string]));
  const root = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(fields['Root'] ?? '');
  const parent = fields['Parent'];
  if (!root || !parent || !/^[0-9a-f]{16}$/.test(parent)) return undefined;
  return { traceId: `${root[1]}${root[2]}`, spanId: parent, traceFlags: fields['Sampled'] === '1' ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
}

/** OTel trace id (32 hex) → X-Ray's `1-{8 hex epoch}-{24 hex}`. */
export function xrayTraceId(traceId: string): string {
  return `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
}

/** X-Ray annotation keys: letters, digits and underscores only. */
export function annotationKey(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

/** Where finished subsegments go (the daemon on Lambda; a list in tests). */
export type SegmentSink = (doc: XRaySubsegment) => void;

/** Sends each document to the X-Ray daemon at `address` (`host:port`, or the daemon's `udp:host:port tcp:…` form). */
export function udpDaemonSink(address: string): SegmentSink {
  const udp = /(?:udp:)?([^\s:]+):(\d+)/.exec(address.split(/\s+/).find((a) => !a.startsWith('tcp:')) ?? address);
  const host = udp?.[1] ?? '127.0.0.1';
  const port = Number(udp?.[2] ?? 2000);
  let socket: Socket | undefined;
  return (doc) => {
    if (!socket) {
      socket = createSocket('udp4');
      // Never keep a process alive for tracing.
      socket.unref();
      socket.on('error', () => undefined);
    }
    socket.send(XRAY_DAEMON_HEADER + JSON.stringify(doc), port, host);
  };
}

const toSeconds = (t: TimeInput | undefined, fallbackMs: number): number => {
  if (t === undefined) return fallbackMs / 1000;
  if (typeof t === 'number') return t / 1000; // epoch ms, as Date.now()
  if (t instanceof Date) return t.getTime() / 1000;
  return t[0] + t[1] / 1e9; // HrTime
};

class XRaySpan implements Span {
  private readonly attributes: Attributes = {};
  private status: SpanStatus = { code: SpanStatusCode.UNSET };
  private readonly exceptions: { message: string; type?: string }[] = [];
  private ended = false;
  private readonly startSeconds: number;

  constructor(
    private name: string,
    private readonly context: SpanContext,
    private readonly parentSpanId: string,
    private readonly sink: SegmentSink,
    private readonly now: () => number,
    options: SpanOptions,
  ) {
    this.startSeconds = toSeconds(options.startTime, now());
    if (options.attributes) this.setAttributes(options.attributes);
  }

  spanContext(): SpanContext {
    return this.context;
  }
  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value !== undefined && !this.ended) this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    for (const [k, v] of Object.entries(attributes)) this.setAttribute(k, v);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(name: string): this {
    this.name = name;
    return this;
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(exception: Exception): void {
    if (typeof exception === 'string') this.exceptions.push({ message: exception });
    else this.exceptions.push({ message: exception.message ?? String(exception), ...(exception.name ? { type: exception.name } : {}) });
  }
  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    const annotations: XRaySubsegment['annotations'] = {};
    for (const [k, v] of Object.entries(this.attributes)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') annotations[annotationKey(k)] = v;
    }
    const failed = this.status.code === SpanStatusCode.ERROR;
    const exceptions = failed && this.exceptions.length === 0 && this.status.message ? [{ message: this.status.message }] : this.exceptions;
    this.sink({
      type: 'subsegment',
      name: this.name,
      id: this.context.spanId,
      trace_id: xrayTraceId(this.context.traceId),
      parent_id: this.parentSpanId,
      start_time: this.startSeconds,
      end_time: toSeconds(endTime, this.now()),
      ...(failed ? { fault: true as const } : {}),
      ...(exceptions.length > 0 ? { cause: { exceptions } } : {}),
      annotations,
      metadata: { otel: { ...this.attributes } as Record<string, AttributeValue> },
    });
  }
}

export interface XRayTracerOptions {
  sink: SegmentSink;
  now?: () => number;
}

/** Starts recording spans only under a sampled parent (Lambda's segment or another span of ours). */
export class XRayTracer implements Tracer {
  constructor(private readonly opts: XRayTracerOptions) {}

  startSpan(name: string, options: SpanOptions = {}, context: Context = otelContext.active()): Span {
    const parent = options.root ? undefined : trace.getSpanContext(context);
    if (!parent || !trace.isSpanContextValid(parent) || (parent.traceFlags & TraceFlags.SAMPLED) === 0) {
      return trace.wrapSpanContext(parent ?? INVALID_SPAN_CONTEXT);
    }
    const spanContext: SpanContext = { traceId: parent.traceId, spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED };
    return new XRaySpan(name, spanContext, parent.spanId, this.opts.sink, this.opts.now ?? Date.now, options);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, context: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, a: SpanOptions | F, b?: Context | F, c?: F): ReturnType<F> {
    const fn = (c ?? (typeof b === 'function' ? b : a)) as F;
    const options = typeof a === 'function' ? {} : a;
    const parentContext = typeof b === 'object' ? b : otelContext.active();
    const span = this.startSpan(name, options, parentContext);
    return otelContext.with(trace.setSpan(parentContext, span), () => fn(span)) as ReturnType<F>;
  }
}

export class XRayTracerProvider implements TracerProvider {
  private readonly tracer: XRayTracer;
  constructor(opts: XRayTracerOptions) {
    this.tracer = new XRayTracer(opts);
  }
  getTracer(): Tracer {
    return this.tracer;
  }
}
