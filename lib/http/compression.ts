/**
 * Compressed request bodies, as Connect-ES servers accept them: `gzip` and `br` (Connect unary:
 * the `content-encoding` header; gRPC and gRPC-web: the message's compressed flag and
 * `grpc-encoding`). Inflation streams and stops as soon as the output passes the limit, so a
 * small "bomb" (200 MB of one letter is ~200 KB of gzip) costs about the limit, not 200 MB.
 */
import { createBrotliDecompress, createGunzip, type Gunzip, type BrotliDecompress } from 'node:zlib';
import { InvalidArgumentError, PayloadTooLargeError, UnsupportedEncodingError } from '../errors.js';

export const ACCEPTED_ENCODINGS = ['gzip', 'br'] as const;
export type ContentEncoding = (typeof ACCEPTED_ENCODINGS)[number];

/** The encoding a header names: undefined for none or `identity`; anything else we cannot read is UNIMPLEMENTED. */
export function encodingOf(header: string | null): ContentEncoding | undefined {
  const name = (header ?? '').trim().toLowerCase();
  if (name === '' || name === 'identity') return undefined;
  const known = ACCEPTED_ENCODINGS.find((e) => e === name);
  if (!known) throw new UnsupportedEncodingError(header!.slice(0, 40), ACCEPTED_ENCODINGS);
  return known;
}

/**
 * Inflates `data`. Output over `maxBytes` is PayloadTooLargeError (413 / RESOURCE_EXHAUSTED);
 * input that does not inflate is the client's mistake (INVALID_ARGUMENT).
 */
export function decompress(encoding: ContentEncoding, data: Uint8Array, maxBytes: number, what = 'the decompressed request body'): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const inflater: Gunzip | BrotliDecompress = encoding === 'gzip' ? createGunzip() : createBrotliDecompress();
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | undefined) => {
      if (done) return;
      done = true;
      if (err) {
        inflater.destroy();
        reject(err);
      } else {
        resolve(Buffer.concat(chunks, size));
      }
    };
    inflater.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish(new PayloadTooLargeError(what, maxBytes));
      chunks.push(chunk);
    });
    inflater.once('end', () => finish(undefined));
    inflater.once('error', (err) => finish(new InvalidArgumentError(`the ${encoding} data cannot be decompressed: ${err.message}`)));
    inflater.end(data);
  });
}
