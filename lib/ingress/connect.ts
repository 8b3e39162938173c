/**
 * The ingress over the neutral HTTP shape: Connect unary calls (`POST /{service}/{method}` with
 * JSON or binary protobuf, answered in the same content type). Protocol choice and error mapping
 * follow the 0.x ingress (research notes §6.7).
 */
import { fromBinary, fromJson, toBinary, toJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import { asRestlessError, Code, connectCodeName, InvalidArgumentError, NotFoundError, PermissionDeniedError, RestlessError, toCode } from '../errors.js';
import { emptyResponse, type HttpHandler, type HttpRequest, type HttpResponse } from '../http/types.js';
import { INVOCATION_ID_ATTR } from '../log.js';
import type { ResolvedMethod, ResolvedService, ServiceResolver } from '../registry/types.js';
import type { InvocationResult } from '../store/invocation-store.js';
import { callUnary, type CallDeps } from './call.js';

export type IngressDeps = CallDeps;

type Codec = 'json' | 'proto';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Connect error body. Errors are always JSON, whatever the request's content type. */
export function connectError(err: RestlessError, headers: Record<string, string> = {}): HttpResponse {
  return {
    status: err.httpStatus,
    headers: { 'content-type': 'application/json', ...headers },
    body: encoder.encode(JSON.stringify({ code: connectCodeName(err.code), message: err.message })),
  };
}

export function codecOf(contentType: string | null): Codec | undefined {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/json' || ct.startsWith('application/json')) return 'json';
  if (ct === 'application/proto' || ct === 'application/protobuf' || ct === 'application/x-protobuf') return 'proto';
  return undefined;
}

/** Decodes a request body to the method's input, checking it (unknown JSON fields are rejected). */
export function decodeInput(service: ResolvedService, method: ResolvedMethod, codec: Codec, body: Uint8Array): { bytes: Uint8Array; key: string } {
  let message;
  if (codec === 'json') {
    let json: JsonValue;
    try {
      const text = body.length === 0 ? '{}' : decoder.decode(body);
      json = JSON.parse(text) as JsonValue;
    } catch (err) {
      throw new InvalidArgumentError(`Error when parsing request: the body is not valid JSON (${(err as Error).message})`);
    }
    try {
      message = fromJson(method.input, json, { registry: service.registry, ignoreUnknownFields: false });
    } catch (err) {
      throw new InvalidArgumentError(`Error when parsing request: ${(err as Error).message}`);
    }
  } else {
    try {
      message = fromBinary(method.input, body);
    } catch (err) {
      throw new InvalidArgumentError(`Error when parsing request: the body is not a valid ${method.input.typeName} (${(err as Error).message})`);
    }
  }
  const key = method.keyField ? String((message as unknown as Record<string, unknown>)[method.keyField.localName] ?? '') : '';
  return { bytes: codec === 'json' ? toBinary(method.input, message) : body, key };
}

/** Encodes a result's value in the caller's content type. */
export function encodeOutput(service: ResolvedService, output: DescMessage, codec: Codec, value: Uint8Array): Uint8Array {
  if (codec === 'proto') return value;
  try {
    const message = fromBinary(output, value);
    return encoder.encode(JSON.stringify(toJson(output, message, { registry: service.registry, alwaysEmitImplicit: true })));
  } catch (err) {
    throw new RestlessError(Code.Internal, `the response cannot be converted to JSON: ${(err as Error).message}`, { cause: err });
  }
}

export function failureError(result: Extract<InvocationResult, { kind: 'failure' }>): RestlessError {
  const code = toCode(result.code);
  return new RestlessError(code === Code.Ok ? Code.Unknown : code, result.message);
}

/** Looks a target up, refusing private services and unknown methods. */
export async function resolveTarget(resolver: ServiceResolver, serviceName: string, methodName: string, opts: { fromIngress: boolean }): Promise<{ service: ResolvedService; method: ResolvedMethod }> {
  const service = await resolver.resolve(serviceName);
  if (!service) throw new NotFoundError(`Service '${serviceName}' not found. Check whether the deployment containing the service is registered.`);
  if (opts.fromIngress && !service.meta.public) throw new PermissionDeniedError(`Service ${serviceName} is not accessible`);
  const method = service.methods.get(methodName);
  if (!method) throw new NotFoundError(`Service method '${serviceName}/${methodName}' not found. Check whether the deployment containing the service is registered.`);
  return { service, method };
}

export function createConnectHandler(deps: IngressDeps): HttpHandler {
  return async (req: HttpRequest): Promise<HttpResponse> => {
    const headers: Record<string, string> = {};
    try {
      const codec = req.method === 'GET' && !req.headers.get('content-type') ? 'json' : codecOf(req.headers.get('content-type'));
      if ((req.method !== 'POST' && req.method !== 'GET') || codec === undefined) return emptyResponse(415);
      const encoding = req.headers.get('content-encoding');
      if (encoding && encoding.toLowerCase() !== 'identity') throw new RestlessError(Code.Unimplemented, `content-encoding '${encoding}' is not supported`);
      const segments = req.path.split('/').slice(1);
      if (segments.length !== 2 || !segments[0] || !segments[1]) throw new InvalidArgumentError(`the path must be /{service}/{method}, got '${req.path}'`);
      const [serviceName, methodName] = segments.map(decodeURIComponent) as [string, string];
      const body = req.method === 'GET' ? new Uint8Array(0) : req.body;
      const done = await callUnary(deps, { serviceName, methodName, decode: (service, method) => decodeInput(service, method, codec, body), headers: req.headers, signal: req.signal, receivedAtMs: req.receivedAtMs }, headers);
      if (done.result.kind === 'failure') return connectError(failureError(done.result), headers);
      return {
        status: 200,
        headers: { 'content-type': codec === 'json' ? 'application/json' : 'application/proto', ...headers },
        body: encodeOutput(done.service, done.method.output, codec, done.result.value),
      };
    } catch (err) {
      const e = asRestlessError(err);
      if (e.code === Code.Internal || e.code === Code.Unknown) {
        deps.log.log('error', 'ingress request failed', { error: err, cause: (err as Error).cause, [INVOCATION_ID_ATTR]: headers['x-restate-id'] });
      }
      return connectError(e, headers);
    }
  };
}


