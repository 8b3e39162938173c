/**
 * The ingress over the neutral HTTP shape: Connect unary calls (`POST /{service}/{method}` with
 * JSON or binary protobuf, optionally gzip or br compressed, answered in the same content type).
 * Protocol choice and error mapping follow the 0.x ingress (docs/protocol.md §6.7); every client
 * mistake is a 4xx that says what is wrong.
 */
import { fromBinary, fromJson, toBinary, toJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import {
  asRestlessError,
  Code,
  connectCodeName,
  InvalidArgumentError,
  MethodNotAllowedError,
  RestlessError,
  toCode,
  UnsupportedEncodingError,
  UnsupportedMediaTypeError,
} from '../errors.js';
import { decompress, encodingOf } from '../http/compression.js';
import { MAX_INGRESS_BODY_BYTES } from '../http/limits.js';
import type { HttpHandler, HttpRequest, HttpResponse } from '../http/types.js';
import { INVOCATION_ID_ATTR } from '../log.js';
import type { ResolvedMethod, ResolvedService } from '../registry/types.js';
import type { InvocationResult } from '../store/invocation-store.js';
import { keyFieldValue } from '../driver/enqueue.js';
import { callUnary } from './call.js';
import type { CallDeps } from './call-deps.js';
import { checkRouterRequest } from './router-request.js';
import { excerpt, parseTargetPath } from './target-path.js';

export type IngressDeps = CallDeps;

type Codec = 'json' | 'proto';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Connect error body. Errors are always JSON, whatever the request's content type. */
export function connectError(err: RestlessError, headers: Record<string, string> = {}): HttpResponse {
  const accept: Record<string, string> = err instanceof UnsupportedEncodingError ? { 'accept-encoding': err.accepted.join(',') } : {};
  return {
    status: err.httpStatus,
    headers: { 'content-type': 'application/json', ...err.headers, ...accept, ...headers },
    body: encoder.encode(JSON.stringify({ code: connectCodeName(err.code), message: err.message })),
  };
}

/**
 * The codec of a Connect unary content type; undefined for types we do not speak (a 415 that
 * names what is accepted). JSON must be UTF-8: another charset is a 415 that says so.
 */
export function codecOf(contentType: string | null): Codec | undefined {
  const [type = '', ...params] = (contentType ?? '').split(';');
  const ct = type.trim().toLowerCase();
  if (ct === 'application/proto' || ct === 'application/protobuf' || ct === 'application/x-protobuf') return 'proto';
  if (ct !== 'application/json') return undefined;
  for (const param of params) {
    const [name = '', value = ''] = param.split('=', 2).map((p) => p.trim().toLowerCase());
    const charset = value.replace(/^"|"$/g, '');
    if (name === 'charset' && charset !== 'utf-8' && charset !== 'utf8') {
      throw new UnsupportedMediaTypeError(
        `charset '${excerpt(charset, 40)}' is not supported: JSON request bodies must be UTF-8 (application/json or application/json; charset=utf-8)`,
      );
    }
  }
  return 'json';
}

/** The gRPC-web types the ingress takes (the `accept-post` of a gRPC-web 415). */
export const GRPC_WEB_CONTENT_TYPES = 'application/grpc-web+proto, application/grpc-web-text+proto';

/** What the ingress takes, for the 415 answer's message and its `accept-post` header. */
const ACCEPTED_CONTENT_TYPES = `application/json, application/proto, ${GRPC_WEB_CONTENT_TYPES}`;

/** 415 with a message (curl sends a form content type when `-H 'content-type: …'` is forgotten). */
function unsupportedContentType(contentType: string | null): UnsupportedMediaTypeError {
  const what = contentType ? `content-type '${excerpt(contentType, 100)}' is not supported` : 'the request has no content-type';
  return new UnsupportedMediaTypeError(
    `${what}: send application/json or application/proto (Connect), application/grpc-web+proto (gRPC-web), or application/grpc over HTTP/2`,
    { headers: { 'accept-post': ACCEPTED_CONTENT_TYPES } },
  );
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
  checkRouterRequest(service, method, message);
  const key = keyFieldValue(method, message);
  if (codec === 'proto') return { bytes: body, key };
  try {
    return { bytes: toBinary(method.input, message), key };
  } catch (err) {
    // e.g. a google.protobuf.Value nested deeper than the encoder's stack allows.
    throw new InvalidArgumentError(`Error when parsing request: the message cannot be encoded (${(err as Error).message})`);
  }
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

/** The request body, inflated when `content-encoding` names gzip or br; either way at most the ingress limit. */
async function requestBody(req: HttpRequest): Promise<Uint8Array> {
  const encoding = encodingOf(req.headers.get('content-encoding'));
  return encoding ? decompress(encoding, req.body, MAX_INGRESS_BODY_BYTES) : req.body;
}

export function createConnectHandler(deps: IngressDeps): HttpHandler {
  return async (req: HttpRequest): Promise<HttpResponse> => {
    const headers: Record<string, string> = {};
    try {
      if (req.method !== 'POST') {
        throw new MethodNotAllowedError(
          `${excerpt(req.method, 20)} does not invoke a handler: only POST does (Connect GET, for idempotent methods, is not supported)`,
          ['POST'],
        );
      }
      const contentType = req.headers.get('content-type');
      const codec = codecOf(contentType);
      if (codec === undefined) throw unsupportedContentType(contentType);
      const { serviceName, methodName } = parseTargetPath(req.path);
      const body = await requestBody(req);
      const done = await callUnary(
        deps,
        {
          serviceName,
          methodName,
          decode: (service, method) => decodeInput(service, method, codec, body),
          headers: req.headers,
          signal: req.signal,
          receivedAtMs: req.receivedAtMs,
        },
        headers,
      );
      if (done.result.kind === 'failure') {
        const failure = failureError(done.result);
        if (failure.httpStatus >= 500)
          deps.log.log('warn', 'invocation ended with a server-side failure code', { code: connectCodeName(failure.code), [INVOCATION_ID_ATTR]: done.id });
        return connectError(failure, headers);
      }
      return {
        status: 200,
        headers: { 'content-type': codec === 'json' ? 'application/json' : 'application/proto', ...headers },
        body: encodeOutput(done.service, done.method.output, codec, done.result.value),
      };
    } catch (err) {
      const e = asRestlessError(err);
      if (isServerFailure(e)) {
        deps.log.log('error', 'ingress request failed', { error: err, cause: (err as Error).cause, [INVOCATION_ID_ATTR]: headers['x-restate-id'] });
      }
      return connectError(e, headers);
    }
  };
}

/** A 5xx that is ours to fix (501 `unimplemented` is an answer, not a failure). */
export function isServerFailure(err: RestlessError): boolean {
  return err.httpStatus >= 500 && err.code !== Code.Unimplemented;
}
