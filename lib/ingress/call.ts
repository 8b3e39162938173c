/**
 * One unary call at the ingress, whatever the wire protocol (Connect, gRPC, gRPC-web): resolve
 * the target (refusing private services), accept the invocation, drive it and wait for its
 * result until the ingress deadline. Protocols only decode the input and encode the output.
 */
import type { RuntimeConfig } from '../config.js';
import type { Dispatcher } from '../driver/dispatcher.js';
import { Code, RestlessError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ResolvedMethod, ResolvedService, ServiceResolver } from '../registry/types.js';
import type { InvocationResult } from '../store/invocation-store.js';
import { resolveTarget } from './connect.js';

export interface CallDeps {
  resolver: ServiceResolver;
  dispatcher: Dispatcher;
  config: RuntimeConfig;
  log: Logger;
  now?: () => number;
}

export interface UnaryCall {
  serviceName: string;
  methodName: string;
  /** Decodes and checks the request body against the method's input type. */
  decode(service: ResolvedService, method: ResolvedMethod): { bytes: Uint8Array; key: string };
  /** Request headers or metadata (idempotency-key, …). */
  headers: Headers;
  signal?: AbortSignal;
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
  const { service, method } = await resolveTarget(deps.resolver, call.serviceName, call.methodName, { fromIngress: true });
  const input = call.decode(service, method);
  const deadline = now() + deps.config.ingressDeadlineMs;
  const { id, driven } = await deps.dispatcher.accept({ service, method: method.name, key: input.key, input: input.bytes }, { drive: true });
  responseHeaders['x-restate-id'] = id;
  const outcome = await waitFor(deps, id, driven, deadline, call.signal);
  if (outcome.kind === 'timeout') {
    throw new RestlessError(Code.DeadlineExceeded, `the invocation is still running; fetch its result with GET /restate/invocation/${id}/attach`);
  }
  return { id, service, method, result: outcome.result };
}

async function waitFor(deps: CallDeps, id: string, driven: Promise<unknown> | undefined, deadline: number, signal?: AbortSignal) {
  if (driven) {
    const outcome = (await Promise.race([driven, sleepUntil(deadline)])) as { kind: string; result?: InvocationResult } | undefined;
    if (outcome?.kind === 'completed' && outcome.result) return { kind: 'result' as const, result: outcome.result };
  }
  return deps.dispatcher.waitForResult(id, deadline, signal);
}

function sleepUntil(deadline: number): Promise<undefined> {
  return new Promise((r) => setTimeout(() => r(undefined), Math.max(0, deadline - Date.now())).unref?.());
}
