/**
 * Size limits of what clients send, in one place. The invocation itself is smaller still: its
 * input (and an awakeable's result) must fit the DynamoDB item (see MAX_INPUT_BYTES, 256 KiB);
 * the body limits below leave room for JSON, base64 (grpc-web-text) and framing around it.
 */
import { InvalidArgumentError, PayloadTooLargeError } from '../errors.js';

/**
 * Largest ingress request body, as it arrives (Connect, gRPC, gRPC-web, grpc-web-text's base64
 * text) and again after decompression. Reading stops at this many bytes.
 */
export const MAX_INGRESS_BODY_BYTES = 1024 * 1024;

/** Largest admin API request body (registration and PATCH bodies are a few hundred bytes). */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024;

/**
 * Longest service, method, endpoint or invocation name accepted in a path, in UTF-8 bytes. Names
 * end up in DynamoDB keys (at most 2048 bytes); real ones are far shorter.
 */
export const MAX_NAME_BYTES = 1024;

/** Refuses a body over `limit` bytes (413 / RESOURCE_EXHAUSTED) with a message naming the limit. */
export function checkBodySize(size: number, limit: number, what = 'the request body'): void {
  if (size > limit) throw new PayloadTooLargeError(what, limit);
}

/** Refuses a name over MAX_NAME_BYTES (`what`: "service name", "id", …); the message shows its start only. */
export function checkNameLength(what: string, name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(`the ${what} '${name.slice(0, 40)}…' has ${bytes} bytes; at most ${MAX_NAME_BYTES} are allowed`);
  }
}
