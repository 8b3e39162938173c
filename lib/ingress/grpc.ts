/**
 * gRPC unary calls at the ingress, host-neutral: the length-prefixed framing shared by native
 * gRPC (HTTP/2, local server only) and gRPC-web (any host, API Gateway included), and the call
 * itself through `callUnary`. Hosts turn a GrpcReply into bytes: native gRPC writes real HTTP/2
 * trailers, gRPC-web appends a trailer frame to the body.
 *
 *   frame = flags (1 byte: bit 0 compressed, bit 7 trailer) | length (u32 big-endian) | payload
 */
import { asRestlessError, Code, InvalidArgumentError, PayloadTooLargeError, UnsupportedEncodingError } from '../errors.js';
import { decompress, encodingOf } from '../http/compression.js';
import { MAX_INGRESS_BODY_BYTES } from '../http/limits.js';
import { INVOCATION_ID_ATTR } from '../log.js';
import { callUnary, type CallDeps } from './call.js';
import { decodeInput, encodeOutput, failureError, isServerFailure } from './connect.js';
import { parseTargetPath } from './target-path.js';

/** Default limit of one request message, compressed or inflated: the ingress body limit. */
export const DEFAULT_MAX_MESSAGE_BYTES = MAX_INGRESS_BODY_BYTES;

export const FRAME_HEADER_BYTES = 5;
export const FrameFlag = { Compressed: 0x01, Trailer: 0x80 } as const;

export interface GrpcOptions {
  /** Largest request message accepted; larger ones get RESOURCE_EXHAUSTED. */
  maxMessageBytes?: number;
}

export type GrpcCodec = 'proto' | 'json';

/** What a gRPC call produced; `message` only when `status` is OK. Hosts add the framing. */
export interface GrpcReply {
  headers: Record<string, string>;
  message?: Uint8Array;
  status: Code;
  statusMessage: string;
}

/**
 * The codec of a native gRPC content type (`application/grpc`, `application/grpc+proto`,
 * `application/grpc+json`); undefined for anything else, gRPC-web included.
 */
export function grpcCodecOf(contentType: string | null): GrpcCodec | undefined {
  const m = /^application\/grpc(\+proto|\+json)?$/.exec((contentType ?? '').split(';')[0]!.trim().toLowerCase());
  if (!m) return undefined;
  return m[1] === '+json' ? 'json' : 'proto';
}

export function encodeFrame(payload: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** The declared payload length of a frame header, or undefined while fewer than 5 bytes arrived. */
export function frameLength(bytes: Uint8Array, offset = 0): number | undefined {
  if (bytes.length - offset < FRAME_HEADER_BYTES) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES).getUint32(1);
}

/** Refuses a message over the limit before its bytes are read (native gRPC checks the header early). */
export function checkMessageSize(length: number, maxBytes: number): void {
  if (length > maxBytes) {
    throw new PayloadTooLargeError(`the request message (${length} bytes)`, maxBytes);
  }
}

/** The one frame of a unary request body. */
export interface UnaryFrame {
  payload: Uint8Array;
  compressed: boolean;
}

/**
 * The one frame of a unary request body. Framing mistakes are the client's: INVALID_ARGUMENT;
 * a frame announcing more than `maxBytes` is RESOURCE_EXHAUSTED before its bytes are looked at.
 */
export function unaryFrame(body: Uint8Array, maxBytes: number): UnaryFrame {
  if (body.length === 0) throw new InvalidArgumentError('the request has no message: a unary call needs exactly one length-prefixed message');
  const length = frameLength(body);
  if (length === undefined) {
    throw new InvalidArgumentError(`truncated gRPC frame: ${body.length} of the 5 header bytes (flags, u32 length) arrived`);
  }
  const flags = body[0]!;
  if (flags & FrameFlag.Trailer) throw new InvalidArgumentError('a request must not carry a trailer frame (flag 0x80)');
  if (flags & ~FrameFlag.Compressed) throw new InvalidArgumentError(`unknown gRPC frame flags 0x${flags.toString(16).padStart(2, '0')}`);
  checkMessageSize(length, maxBytes);
  const end = FRAME_HEADER_BYTES + length;
  if (body.length < end) {
    throw new InvalidArgumentError(`truncated gRPC frame: the header announces ${length} bytes, ${body.length - FRAME_HEADER_BYTES} arrived`);
  }
  if (body.length > end) throw new InvalidArgumentError('a unary call takes exactly one message; the request has more bytes after the first');
  return { payload: body.subarray(FRAME_HEADER_BYTES, end), compressed: (flags & FrameFlag.Compressed) !== 0 };
}

/**
 * The message of a unary request: the frame's payload, inflated (to at most `maxBytes`) when it
 * is flagged compressed with the `grpc-encoding` gzip or br. An encoding we cannot read is
 * UNIMPLEMENTED (the reply lists ours in `grpc-accept-encoding`), as the gRPC spec asks.
 */
export async function unaryMessage(body: Uint8Array, encodingHeader: string | null, maxBytes: number): Promise<Uint8Array> {
  const encoding = encodingOf(encodingHeader);
  const frame = unaryFrame(body, maxBytes);
  if (!frame.compressed) return frame.payload;
  if (!encoding) throw new InvalidArgumentError('the message is flagged compressed but no grpc-encoding names its compression (gzip or br)');
  return decompress(encoding, frame.payload, maxBytes, 'the decompressed request message');
}

/**
 * gRPC's `grpc-message` encoding: UTF-8, then every byte outside printable ASCII and `%` itself
 * as `%XX`.
 */
export function percentEncode(message: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `grpc-status` and, when there is one, `grpc-message`. */
export function statusTrailers(status: Code, message: string): Record<string, string> {
  return message ? { 'grpc-status': String(status), 'grpc-message': percentEncode(message) } : { 'grpc-status': String(status) };
}

export interface GrpcUnaryRequest {
  /** `/{service}/{method}` */
  path: string;
  headers: Headers;
  /** The request body: length-prefixed frames, already base64-decoded for grpc-web-text. */
  body: Uint8Array;
  codec: GrpcCodec;
  signal?: AbortSignal;
  /** When the front door received the request; the ingress deadline counts from it. */
  receivedAtMs?: number;
}

/** Runs one unary gRPC call. Never throws: every failure is a status. */
export async function grpcUnary(deps: CallDeps, req: GrpcUnaryRequest, opts: GrpcOptions = {}): Promise<GrpcReply> {
  const headers: Record<string, string> = {};
  try {
    const { serviceName, methodName } = parseTargetPath(req.path);
    // The body is checked before the target so that framing errors win over lookups.
    const message = await unaryMessage(req.body, req.headers.get('grpc-encoding'), opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    const done = await callUnary(
      deps,
      {
        serviceName,
        methodName,
        decode: (service, method) => decodeInput(service, method, req.codec, message),
        headers: req.headers,
        signal: req.signal,
        receivedAtMs: req.receivedAtMs,
      },
      headers,
    );
    if (done.result.kind === 'failure') {
      const err = failureError(done.result);
      return { headers, status: err.code, statusMessage: err.message };
    }
    return { headers, message: encodeOutput(done.service, done.method.output, req.codec, done.result.value), status: Code.Ok, statusMessage: '' };
  } catch (err) {
    const e = asRestlessError(err);
    if (isServerFailure(e)) {
      deps.log.log('error', 'gRPC ingress request failed', { error: err, cause: (err as Error).cause, [INVOCATION_ID_ATTR]: headers['x-restate-id'] });
    }
    if (e instanceof UnsupportedEncodingError) headers['grpc-accept-encoding'] = e.accepted.join(',');
    return { headers, status: e.code, statusMessage: e.message };
  }
}
