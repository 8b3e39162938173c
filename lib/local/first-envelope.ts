/**
 * Health and reflection over native gRPC are served by Connect-ES, which answers a malformed
 * request (a compressed flag without `grpc-encoding`, unknown flags, corrupt compressed data, a
 * truncated frame) with INTERNAL, as gRPC servers do. Those are the client's mistakes, answered
 * INVALID_ARGUMENT everywhere else on the ingress; so the first message is checked here, with
 * the same rules as unary calls, and put back for Connect-ES when it is fine.
 */
import type { Http2ServerRequest } from 'node:http2';
import { RestlessError } from '../errors.js';
import { FRAME_HEADER_BYTES, unaryMessage } from '../ingress/grpc.js';
import { RequestAbortedError } from './request-body.js';

/** Reads the first envelope (or up to `maxBytes`) without consuming it: the bytes are unshifted unless the stream ended. */
function peekFirstEnvelope(req: Http2ServerRequest, maxBytes: number): Promise<{ bytes: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const complete = () => {
      if (size < FRAME_HEADER_BYTES) return false;
      const head = Buffer.concat(chunks, size);
      return size >= FRAME_HEADER_BYTES + head.readUInt32BE(1) || size > maxBytes + FRAME_HEADER_BYTES;
    };
    const finish = (ended: boolean) => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('error', onError);
      const bytes = Buffer.concat(chunks, size);
      if (!ended && bytes.length > 0) req.unshift(bytes);
      resolve({ bytes, ended });
    };
    const onReadable = () => {
      // Stop before the read that would reach the end: after 'end' nothing can be put back.
      for (let chunk: Buffer | null; !complete() && (chunk = req.read() as Buffer | null) !== null;) {
        chunks.push(chunk);
        size += chunk.length;
      }
      if (complete()) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = () => reject(new RequestAbortedError());
    req.on('readable', onReadable);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

/**
 * The refusal for a malformed first message of a Connect-ES-served gRPC request, or undefined
 * when Connect-ES may have it. `unary`: exactly one message is required (health Check).
 */
export async function checkFirstEnvelope(
  req: Http2ServerRequest,
  opts: { unary: boolean; maxBytes: number; validate: (message: Uint8Array) => void },
): Promise<RestlessError | undefined> {
  const { bytes, ended } = await peekFirstEnvelope(req, opts.maxBytes);
  // A stream that ends without a message is a valid (empty) reflection stream.
  if (bytes.length === 0 && !opts.unary) return undefined;
  const first = bytes.length >= FRAME_HEADER_BYTES ? bytes.subarray(0, Math.min(bytes.length, FRAME_HEADER_BYTES + bytes.readUInt32BE(1))) : bytes;
  try {
    const encoding = req.headers['grpc-encoding'];
    opts.validate(await unaryMessage(ended ? bytes : first, (Array.isArray(encoding) ? encoding.join(',') : encoding) ?? null, opts.maxBytes));
    return undefined;
  } catch (err) {
    if (err instanceof RestlessError) return err;
    throw err;
  }
}
