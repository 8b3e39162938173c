/**
 * Built-in services at the ingress: `dev.restate.Ingress/Invoke` (one-way call, answers the new
 * invocation id at once) and `dev.restate.Awakeables/Resolve|Reject`.
 */
import { createFileRegistry, fromBinary, fromJson, toBinary, create, type DescMessage } from '@bufbuild/protobuf';
import { EmptySchema, file_google_protobuf_empty, file_google_protobuf_struct } from '@bufbuild/protobuf/wkt';
import {
  file_dev_restate_services,
  InvokeRequestSchema,
  InvokeResponseSchema,
  RejectAwakeableRequestSchema,
  ResolveAwakeableRequestSchema,
} from '../../gen/dev/restate/services_pb.js';
import { instanceKeyOf, newInvocationFor, startInvocation } from '../driver/enqueue.js';
import { MAX_INPUT_BYTES } from '../driver/limits.js';
import { InvalidArgumentError, NotFoundError, RestlessError, Code } from '../errors.js';
import { checkBodySize } from '../http/limits.js';
import { invocationIdFromBytes, isInvocationId, newInvocationId } from '../ids.js';
import { INVOCATION_ID_ATTR } from '../log.js';
import { decodeAwakeableId } from '../protocol/awakeable-id.js';
import type { ResolvedMethod, ResolvedService } from '../registry/types.js';
import type { Completion } from '../store/invocation-store.js';
import type { CallDeps } from './call-deps.js';
import { resolveTarget } from './target.js';
import { idempotentOptions, type IdempotencyRequest } from './idempotency.js';
import { checkRouterRequest } from './router-request.js';

const WKT = new Map([file_google_protobuf_empty, file_google_protobuf_struct].map((f) => [f.proto.name, f]));
const registry = createFileRegistry(file_dev_restate_services.proto, (name) => WKT.get(name));

function builtin(name: string, methods: [string, DescMessage, DescMessage][]): ResolvedService {
  return {
    meta: {
      name,
      methods: methods.map(([m, i, o]) => ({ name: m, input_type: i.typeName, output_type: o.typeName })),
      instance_type: 'Unkeyed',
      endpoint_id: 'builtin',
      revision: 0,
      public: true,
    },
    endpoint: {
      id: 'builtin',
      address: { kind: 'http', uri: 'builtin:', additionalHeaders: {} },
      protocolType: 'RequestResponse',
      services: [],
      descriptorSet: new Uint8Array(0),
      createdAt: new Date(0).toISOString(),
    },
    registry,
    methods: new Map<string, ResolvedMethod>(methods.map(([m, input, output]) => [m, { name: m, input, output }])),
  };
}

const BUILTINS = new Map<string, ResolvedService>([
  ['dev.restate.Ingress', builtin('dev.restate.Ingress', [['Invoke', InvokeRequestSchema, InvokeResponseSchema]])],
  [
    'dev.restate.Awakeables',
    builtin('dev.restate.Awakeables', [
      ['Resolve', ResolveAwakeableRequestSchema, EmptySchema],
      ['Reject', RejectAwakeableRequestSchema, EmptySchema],
    ]),
  ],
]);

export function builtinService(name: string): ResolvedService | undefined {
  return BUILTINS.get(name);
}

export function builtinServices(): ResolvedService[] {
  return [...BUILTINS.values()];
}

export interface BuiltinOutput {
  value: Uint8Array;
  /** The invocation the call created or named (x-restate-id). */
  id?: string;
}

export async function runBuiltin(
  deps: CallDeps,
  service: string,
  method: string,
  input: Uint8Array,
  idem: IdempotencyRequest | undefined,
): Promise<BuiltinOutput> {
  if (service === 'dev.restate.Ingress' && method === 'Invoke') return invoke(deps, input, idem);
  if (service === 'dev.restate.Awakeables') return completeAwakeable(deps, method, input);
  throw new NotFoundError(`Service method '${service}/${method}' not found.`);
}

function requireRuntime(deps: CallDeps) {
  if (!deps.kicker || !deps.store) throw new RestlessError(Code.Unavailable, 'built-in services are not wired in this process');
  return { kicker: deps.kicker, store: deps.store };
}

/** One-way call: checks the target like a direct call (404 unknown, 403 private), enqueues, returns the id. */
async function invoke(deps: CallDeps, input: Uint8Array, idem: IdempotencyRequest | undefined): Promise<BuiltinOutput> {
  const { kicker, store } = requireRuntime(deps);
  const req = fromBinary(InvokeRequestSchema, input);
  if (!req.service || !req.method) throw new InvalidArgumentError("'service' and 'method' are required");
  const { service, method } = await resolveTarget(deps.resolver, req.service, req.method, { fromIngress: true });
  let argument: Uint8Array;
  if (req.argument.case === 'json') {
    try {
      argument = toBinary(method.input, fromJson(method.input, req.argument.value as never, { registry: service.registry, ignoreUnknownFields: false }));
    } catch (err) {
      throw new InvalidArgumentError(`the argument does not match ${method.input.typeName}: ${(err as Error).message}`);
    }
  } else {
    argument = req.argument.case === 'pb' ? req.argument.value : new Uint8Array(0);
    try {
      fromBinary(method.input, argument);
    } catch (err) {
      throw new InvalidArgumentError(`the argument is not a valid ${method.input.typeName}: ${(err as Error).message}`);
    }
  }
  checkRouterRequest(service, method, fromBinary(method.input, argument));
  const key = instanceKeyOf(service, method, argument, '');
  const idemOptions = idem ? idempotentOptions(service, method, { bytes: argument, key }, idem) : undefined;
  const id = idemOptions?.id ?? newInvocationId();
  const inv = newInvocationFor(service, method, {
    id,
    input: argument,
    idempotency: idemOptions?.idempotency,
    retentionSec: idemOptions?.retentionSec ?? deps.config.idempotencyDefaultRetentionSec,
  });
  // Answered only once the invocation is stored: an id that leads nowhere is never handed out.
  const { created, existing } = await startInvocation(store, kicker, inv);
  if (!created && idemOptions) {
    // Same idempotency key: the same id again, unless the request differs.
    if (existing?.idempotency && existing.idempotency.requestHash !== idemOptions.idempotency.requestHash) {
      throw new RestlessError(Code.FailedPrecondition, `the idempotency key '${idem!.key}' was already used for a different request; use a new key`, {
        httpStatus: 422,
      });
    }
  } else if (!created) {
    throw new RestlessError(Code.Unavailable, `invocation id ${id} is taken; try again`);
  }
  deps.log.log('info', created ? 'one-way invocation accepted' : 'one-way invocation repeated (idempotency key)', {
    [INVOCATION_ID_ATTR]: id,
    target: `${service.meta.name}/${method.name}`,
  });
  return { id, value: toBinary(InvokeResponseSchema, create(InvokeResponseSchema, { id })) };
}

async function completeAwakeable(deps: CallDeps, method: string, input: Uint8Array): Promise<BuiltinOutput> {
  const { kicker, store } = requireRuntime(deps);
  let awakeableId: string;
  let completion: Completion;
  if (method === 'Resolve') {
    const req = fromBinary(ResolveAwakeableRequestSchema, input);
    awakeableId = req.id;
    if (req.result.case === 'bytesResult') completion = { kind: 'value', value: req.result.value };
    else if (req.result.case === 'jsonResult') completion = { kind: 'value', value: new TextEncoder().encode(JSON.stringify(jsonOfValue(req.result.value))) };
    else throw new InvalidArgumentError("a result is required: 'json_result' or 'bytes_result'");
  } else if (method === 'Reject') {
    const req = fromBinary(RejectAwakeableRequestSchema, input);
    awakeableId = req.id;
    completion = { kind: 'failure', code: Code.Unknown, message: req.reason };
  } else {
    throw new NotFoundError(`Service method 'dev.restate.Awakeables/${method}' not found.`);
  }
  // The completion is kept in the waiting invocation's item, like its input.
  checkBodySize(
    completion.kind === 'value' ? completion.value.length : Buffer.byteLength(completion.message),
    MAX_INPUT_BYTES,
    `the awakeable ${completion.kind === 'value' ? 'result' : 'reason'}`,
  );
  const parts = decodeAwakeableId(awakeableId);
  const target = invocationIdFromBytes(parts.invocationIdBytes);
  if (!isInvocationId(target)) throw new NotFoundError(`awakeable ${awakeableId.slice(0, 80)} not found`);
  // Applied only to an awakeable entry; the first completion wins, a repeat changes nothing.
  const outcome = await store.completeAwakeable(target, parts.entryIndex, completion);
  deps.log.log('info', `awakeable completion: ${outcome}`, { [INVOCATION_ID_ATTR]: target, entry: parts.entryIndex });
  switch (outcome) {
    case 'stored':
      await kicker.kick(target).catch(() => undefined);
      break;
    case 'duplicate':
      break;
    case 'not-awakeable':
      throw new InvalidArgumentError(`entry ${parts.entryIndex} of invocation ${target} is not an awakeable`);
    case 'not-started':
      throw new InvalidArgumentError(`invocation ${target} has not started; it has no awakeable ${parts.entryIndex}`);
    case 'finished':
      throw new NotFoundError(`invocation ${target} has finished; its awakeables take no results`);
    case 'not-found':
      throw new NotFoundError(`invocation ${target} not found`);
  }
  return { id: target, value: new Uint8Array(0) };
}

/** google.protobuf.Value as plain JSON. */
function jsonOfValue(v: { kind: { case: string | undefined; value?: unknown } }): unknown {
  const k = v.kind;
  switch (k.case) {
    case 'nullValue':
      return null;
    case 'numberValue':
    case 'stringValue':
    case 'boolValue':
      return k.value;
    case 'structValue':
      return Object.fromEntries(Object.entries((k.value as { fields: Record<string, never> }).fields).map(([key, val]) => [key, jsonOfValue(val)]));
    case 'listValue':
      return (k.value as { values: never[] }).values.map((x) => jsonOfValue(x));
    default:
      return null;
  }
}
