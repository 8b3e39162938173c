/**
 * One unary call at the ingress, whatever the wire protocol (Connect, gRPC, gRPC-web): resolve
 * the target (refusing private services), accept the invocation, drive it and wait for its
 * result until the ingress deadline. Protocols only decode the input and encode the output.
 */
import type { RuntimeConfig } from '../config.js';
import type { Dispatcher } from '../driver/dispatcher.js';
import { Code, NotFoundError, RestlessError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ResolvedMethod, ResolvedService, ServiceResolver } from '../registry/types.js';
import { InvocationStatus, type InvocationRecord, type InvocationResult, type InvocationStore } from '../store/invocation-store.js';
import type { Kicker } from '../driver/driver.js';
import { builtinService, runBuiltin } from './builtins.js';
import { expiresHeader, idempotencyOf, idempotentOptions } from './idempotency.js';
import { resolveTarget } from './connect.js';

export interface CallDeps {
  resolver: ServiceResolver;
  dispatcher: Dispatcher;
  /** Built-in services (Ingress/Invoke, Awakeables) need them; without, they answer UNAVAILABLE. */
  store?: InvocationStore;
  kicker?: Kicker;
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
  const deadline = now() + deps.config.ingressDeadlineMs;
  const options = idem ? idempotentOptions(service, method.name, input, idem) : {};
  const accepted = await deps.dispatcher.accept({ service, method: method.name, key: input.key, input: input.bytes }, { ...options, drive: true });
  const id = accepted.id;
  responseHeaders['x-restate-id'] = id;
  const done = accepted.duplicateOf?.status === InvocationStatus.Completed ? accepted.duplicateOf : undefined;
  const outcome = done?.result ? { kind: 'result' as const, result: done.result } : await waitFor(deps, id, accepted.driven, deadline, call.signal, accepted.duplicateOf);
  if (outcome.kind === 'timeout') {
    throw new RestlessError(Code.DeadlineExceeded, `the invocation is still running; fetch its result with GET /restate/invocation/${id}/attach`);
  }
  if (idem) responseHeaders['idempotency-expires'] = expiresHeader(done?.modifiedAt ?? now(), done?.retentionSec ?? idem.retentionSec);
  return { id, service, method, result: outcome.result };
}

async function waitFor(deps: CallDeps, id: string, driven: Promise<unknown> | undefined, deadline: number, signal?: AbortSignal, known?: InvocationRecord) {
  if (driven) {
    const outcome = (await Promise.race([driven, sleepUntil(deadline)])) as { kind: string; result?: InvocationResult } | undefined;
    if (outcome?.kind === 'completed' && outcome.result) return { kind: 'result' as const, result: outcome.result };
  }
  return deps.dispatcher.waitForResult(id, deadline, signal, known);
}

function sleepUntil(deadline: number): Promise<undefined> {
  return new Promise((r) => setTimeout(() => r(undefined), Math.max(0, deadline - Date.now())).unref?.());
}
