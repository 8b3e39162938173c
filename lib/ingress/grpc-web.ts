/**
 * gRPC-web over the neutral HTTP shape, so it works through API Gateway → Lambda as well as
 * locally: the trailers travel at the end of the body, in a frame flagged 0x80.
 *
 *   request   POST /{service}/{method}   content-type application/grpc-web[-text][+proto|+json]
 *             body  [00 | len | message]                  (-text: the same bytes, base64)
 *   response  200  content-type as requested, x-restate-id
 *             body  [00 | len | message] [80 | len | "grpc-status:0\r\n"]
 *   failure   200  grpc-status / grpc-message as headers and an empty body (trailers-only)
 */
import { Code, RestlessError, UnsupportedEncodingError } from '../errors.js';
import { emptyResponse, type HttpHandler, type HttpRequest, type HttpResponse } from '../http/types.js';
import { decompress, encodingOf } from '../http/compression.js';
import { MAX_INGRESS_BODY_BYTES } from '../http/limits.js';
import { checkBuiltinMessage } from './builtin-input.js';
import type { CallDeps } from './call.js';
import { codecOf, connectError, GRPC_WEB_CONTENT_TYPES } from './connect.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  encodeFrame,
  FrameFlag,
  grpcUnary,
  statusTrailers,
  unaryMessage,
  type GrpcCodec,
  type GrpcOptions,
  type GrpcReply,
} from './grpc.js';
import { createHealthHttpHandler, HEALTH_SERVICE } from './health.js';
import { isReflectionPath } from './reflection.js';

export interface GrpcWebFormat {
  text: boolean;
  codec: GrpcCodec;
}

/** The gRPC-web variant of a content type; undefined when it is not gRPC-web. */
export function grpcWebFormatOf(contentType: string | null): GrpcWebFormat | undefined {
  const m = /^application\/grpc-web(-text)?(\+proto|\+json)?$/.exec((contentType ?? '').split(';')[0]!.trim().toLowerCase());
  if (!m) return undefined;
  return { text: m[1] !== undefined, codec: m[2] === '+json' ? 'json' : 'proto' };
}

/** True for every `application/grpc-web…` type, including ones we do not speak (they get 415). */
export function isGrpcWeb(contentType: string | null): boolean {
  return (contentType ?? '').trim().toLowerCase().startsWith('application/grpc-web');
}

function contentTypeOf(format: GrpcWebFormat): string {
  return `application/grpc-web${format.text ? '-text' : ''}+${format.codec}`;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes a grpc-web-text body. Clients may base64 each frame on its own, so the text can be
 * several padded chunks back to back ("AAAA==BBBB").
 */
export function decodeTextBody(body: Uint8Array): Uint8Array | undefined {
  const text = Buffer.from(body).toString('latin1').replace(/\s+/g, '');
  const chunks = text.match(/[^=]+=*|=+/g) ?? [];
  const parts: Buffer[] = [];
  for (const chunk of chunks) {
    if (!BASE64.test(chunk) || chunk.replace(/=+$/, '').length % 4 === 1) return undefined;
    parts.push(Buffer.from(chunk, 'base64'));
  }
  return Buffer.concat(parts);
}

/** The trailer frame: HTTP/1-style header lines, lower-case names. */
export function trailerFrame(trailers: Record<string, string>): Uint8Array {
  const block = Object.entries(trailers)
    .map(([k, v]) => `${k}:${v}\r\n`)
    .join('');
  return encodeFrame(new TextEncoder().encode(block), FrameFlag.Trailer);
}

/** Writes a reply as gRPC-web: data + trailer frames, or trailers-only in the headers. */
export function grpcWebResponse(format: GrpcWebFormat, reply: GrpcReply): HttpResponse {
  const trailers = statusTrailers(reply.status, reply.statusMessage);
  const headers: Record<string, string> = { 'content-type': contentTypeOf(format), ...reply.headers };
  let body: Uint8Array;
  if (reply.status === Code.Ok && reply.message) {
    body = Buffer.concat([encodeFrame(reply.message), trailerFrame(trailers)]);
  } else {
    Object.assign(headers, trailers);
    body = new Uint8Array(0);
  }
  return { status: 200, headers, body: format.text && body.length > 0 ? Buffer.from(Buffer.from(body).toString('base64')) : body };
}

/** A trailers-only gRPC-web answer with a status (for requests refused before any call). */
export function grpcWebStatus(format: GrpcWebFormat, status: Code, message: string, headers: Record<string, string> = {}): HttpResponse {
  return grpcWebResponse(format, { headers, status, statusMessage: message });
}

/** A refusal (too large, bad encoding, …) as a trailers-only gRPC-web answer. */
export function grpcWebError(format: GrpcWebFormat, err: RestlessError): HttpResponse {
  const headers: Record<string, string> = err instanceof UnsupportedEncodingError ? { 'grpc-accept-encoding': err.accepted.join(',') } : {};
  return grpcWebStatus(format, err.code, err.message, headers);
}

export function createGrpcWebHandler(deps: CallDeps, opts: GrpcOptions = {}): HttpHandler {
  return async (req: HttpRequest): Promise<HttpResponse> => {
    const format = grpcWebFormatOf(req.headers.get('content-type'));
    if (!format) return emptyResponse(415, { 'accept-post': GRPC_WEB_CONTENT_TYPES });
    if (req.method !== 'POST') return emptyResponse(405, { allow: 'POST' });
    const body = format.text ? decodeTextBody(req.body) : req.body;
    if (!body) return grpcWebStatus(format, Code.InvalidArgument, 'the grpc-web-text body is not valid base64');
    const reply = await grpcUnary(
      deps,
      { path: req.path, headers: req.headers, body, codec: format.codec, signal: req.signal, receivedAtMs: req.receivedAtMs },
      opts,
    );
    return grpcWebResponse(format, reply);
  };
}

/**
 * The gRPC-side routes of the ingress router over the neutral shape: health (Connect and
 * gRPC-web), reflection (refused: it needs HTTP/2) and gRPC-web calls. Undefined: not ours.
 */
export function createGrpcRoutes(deps: CallDeps, opts: GrpcOptions = {}): (req: HttpRequest) => Promise<HttpResponse> | undefined {
  const grpcWeb = createGrpcWebHandler(deps, opts);
  const health = createHealthHttpHandler(deps.resolver);
  // Connect-ES answers a request it cannot read with INTERNAL; it is the client's mistake, checked
  // here by the rules of unary calls (INVALID_ARGUMENT, UNIMPLEMENTED, RESOURCE_EXHAUSTED).
  const checkedHealth = async (req: HttpRequest, format: GrpcWebFormat | undefined): Promise<HttpResponse> => {
    if (req.method !== 'POST') return health(req);
    try {
      if (format) {
        const body = format.text ? decodeTextBody(req.body) : req.body;
        if (!body) return grpcWebStatus(format, Code.InvalidArgument, 'the grpc-web-text body is not valid base64');
        checkBuiltinMessage(
          req.path,
          format.codec,
          await unaryMessage(body, req.headers.get('grpc-encoding'), opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES),
        );
      } else {
        const codec = codecOf(req.headers.get('content-type'));
        const encoding = encodingOf(req.headers.get('content-encoding'));
        if (codec) checkBuiltinMessage(req.path, codec, encoding ? await decompress(encoding, req.body, MAX_INGRESS_BODY_BYTES) : req.body);
      }
    } catch (err) {
      if (!(err instanceof RestlessError)) throw err;
      return format ? grpcWebError(format, err) : connectError(err);
    }
    return health(req);
  };

  return (req) => {
    const contentType = req.headers.get('content-type');
    if (req.path.startsWith(`/${HEALTH_SERVICE}/`)) return checkedHealth(req, grpcWebFormatOf(contentType));
    if (isReflectionPath(req.path)) {
      const format = grpcWebFormatOf(contentType);
      // The 0.x ingress answered a Connect reflection request with a bare 415.
      if (!format) return Promise.resolve(emptyResponse(415));
      return Promise.resolve(grpcWebStatus(format, Code.Unimplemented, REFLECTION_NEEDS_HTTP2));
    }
    return isGrpcWeb(contentType) ? grpcWeb(req) : undefined;
  };
}

const REFLECTION_NEEDS_HTTP2 =
  'server reflection is a bidirectional stream and needs native gRPC over HTTP/2, which only the local ingress server offers; through API Gateway, pass the schema instead (buf curl --schema)';
