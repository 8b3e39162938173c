/**
 * One unary call at the ingress, whatever the wire protocol (Connect, gRPC, gRPC-web): resolve
 * the target (refusing private services), accept the invocation, drive it and wait for its
 * result until the ingress deadline. Protocols only decode the input and encode the output.
 */
import type { WaitOutcome } from '../driver/dispatcher.js';
import { Code, NotFoundError, RestlessError, STOPPED } from '../errors.js';
import type { ResolvedMethod, ResolvedService } from '../registry/types.js';
import { InvocationStatus, type InvocationRecord, type InvocationResult } from '../store/invocation-store.js';
import type { DriveOutcome } from '../driver/driver.js';
import { builtinService, runBuiltin } from './builtins.js';
import { expiresHeader, idempotencyOf, idempotentOptions } from './idempotency.js';
import type { CallDeps } from './call-deps.js';
import { resolveTarget } from './target.js';

export type { CallDeps } from './call-deps.js';

export interface UnaryCall {
  serviceName: string;
  methodName: string;
  /** Decodes and checks the request body against the method's input type. */
  decode(service: ResolvedService, method: ResolvedMethod): { bytes: Uint8Array; key: string };
  /** Request headers or metadata (idempotency-key, …). */
  headers: Headers;
  signal?: AbortSignal;
  /** When the front door received the request (HttpRequest.receivedAtMs); the deadline counts from it. */
  receivedAtMs?: number;
}

export interface UnaryDone {
  id: string;
  service: ResolvedService;
  method: ResolvedMethod;
  result: InvocationResult;
}

/**
 * Runs the call. Response headers (x-restate-id, idempotency-expires) are added to
 * `responseHeaders` as soon as they are known, so error answers carry them too.
 */
export async function callUnary(deps: CallDeps, call: UnaryCall, responseHeaders: Record<string, string>): Promise<UnaryDone> {
  const now = deps.now ?? Date.now;
  const idem = idempotencyOf(call.headers, deps.config);
  const builtin = builtinService(call.serviceName);
  if (builtin) {
    const method = builtin.methods.get(call.methodName);
    if (!method) throw new NotFoundError(`Service method '${call.serviceName}/${call.methodName}' not found.`);
    const input = call.decode(builtin, method);
    const output = await runBuiltin(deps, call.serviceName, call.methodName, input.bytes, idem);
    if (output.id) responseHeaders['x-restate-id'] = output.id;
    return { id: output.id ?? '', service: builtin, method, result: { kind: 'value', value: output.value } };
  }
  const { service, method } = await resolveTarget(deps.resolver, call.serviceName, call.methodName, { fromIngress: true });
  const input = call.decode(service, method);
  const deadline = requestStart(call.receivedAtMs, now()) + deps.config.ingressDeadlineMs;
  const options = idem ? idempotentOptions(service, method, input, idem) : {};
  // Before the deadline, whatever this request drives is handed on (released and kicked): a Lambda
  // is frozen once it answers, and an attempt it held would wait for its lease to lapse.
  const handoff = new AbortController();
  const stopDriving = handoff.signal;
  // The request's own signal (the Lambda's early timeout) hands on too; AbortSignal.any would cost
  // tens of microseconds on every call.
  const requestSignal = call.signal;
  const onRequestAbort = () => handoff.abort(requestSignal?.reason);
  if (requestSignal?.aborted) onRequestAbort();
  else requestSignal?.addEventListener('abort', onRequestAbort, { once: true });
  let accepted;
  try {
    accepted = await deps.dispatcher.accept(
      { service, method: method.name, key: input.key, input: input.bytes },
      { ...options, drive: true, handoff: stopDriving },
    );
  } catch (err) {
    requestSignal?.removeEventListener('abort', onRequestAbort);
    throw err;
  }
  const id = accepted.id;
  responseHeaders['x-restate-id'] = id;
  const done = accepted.duplicateOf?.status === InvocationStatus.Completed ? accepted.duplicateOf : undefined;
  let outcome;
  try {
    outcome = done?.result
      ? { kind: 'result' as const, result: done.result }
      : await waitFor(deps, id, accepted.driven, deadline - HANDOFF_MARGIN_MS, stopDriving, accepted.duplicateOf);
  } finally {
    requestSignal?.removeEventListener('abort', onRequestAbort);
    handoff.abort(STOPPED);
    if (accepted.driven) await Promise.race([accepted.driven.catch(() => undefined), sleepUntil(deadline)]);
  }
  if (outcome.kind === 'timeout') {
    throw new RestlessError(Code.DeadlineExceeded, `the invocation is still running; fetch its result with GET /restate/invocation/${id}/attach`);
  }
  if (idem) responseHeaders['idempotency-expires'] = expiresHeader(done?.modifiedAt ?? now(), done?.retentionSec ?? idem.retentionSec);
  return { id, service, method, result: outcome.result };
}

/**
 * Where the caller's clock started: API Gateway's receive time when known (its 30 s include our
 * cold start), never later than now (clocks of two hosts may disagree a little).
 *
 *   API Gateway receives ─ cold start ─ handler runs ──────── deadline ─ 30 s: API Gateway cuts
 *   └───────────────────── ingressDeadlineMs (28 s) ─────────┘
 */
export function requestStart(receivedAtMs: number | undefined, nowMs: number): number {
  return receivedAtMs !== undefined && Number.isFinite(receivedAtMs) ? Math.min(receivedAtMs, nowMs) : nowMs;
}

/** Time kept before the caller's deadline to hand the attempt on and answer. */
const HANDOFF_MARGIN_MS = 1_500;

/** While this process drives, the table is looked at now and then: another process (a kill) may end it first. */
const POLL_WHILE_DRIVING_MS = 1_000;

async function waitFor(
  deps: CallDeps,
  id: string,
  driven: Promise<DriveOutcome> | undefined,
  until: number,
  handoff: AbortSignal,
  lastRead?: InvocationRecord,
): Promise<WaitOutcome> {
  if (driven) {
    const polling = { stopped: false };
    try {
      const first = await Promise.race([
        driven.then((o) => ({ from: 'drive' as const, o })),
        sleepUntil(until).then(() => ({ from: 'deadline' as const })),
        pollWhileDriving(deps, id, until, polling).then((r) => ({ from: 'poll' as const, r })),
      ]);
      if (first.from === 'drive' && first.o.kind === 'completed') return { kind: 'result', result: first.o.result };
      if (first.from === 'poll' && first.r) return { kind: 'result', result: first.r };
      if (first.from === 'deadline') return { kind: 'timeout' };
    } finally {
      polling.stopped = true;
    }
  }
  return deps.dispatcher.waitForResult(id, until, { lastRead, handoff });
}

async function pollWhileDriving(deps: CallDeps, id: string, until: number, stop: { stopped: boolean }): Promise<InvocationResult | undefined> {
  for (;;) {
    await sleepUntil(Math.min(until, Date.now() + POLL_WHILE_DRIVING_MS));
    if (stop.stopped || Date.now() >= until || !deps.store) return new Promise(() => undefined);
    const rec = await deps.store.get(id).catch(() => undefined);
    if (rec?.status === InvocationStatus.Completed && rec.result) return rec.result;
  }
}

function sleepUntil(deadline: number): Promise<undefined> {
  return new Promise((r) => setTimeout(() => r(undefined), Math.max(0, deadline - Date.now())).unref?.());
}
