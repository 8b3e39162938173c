/**
 * Reading a Node request body with a byte cap. A body over the limit is refused as soon as that
 * is known (a larger `content-length` before any byte is read, a longer stream once it passes
 * the limit) and reading stops there: the server answers and closes instead of swallowing
 * 20 MB it is going to refuse anyway.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { checkBodySize } from '../http/limits.js';

/** What an HTTP/1.1 or HTTP/2 compatibility request shares. */
export type NodeRequest = Readable & { headers: IncomingHttpHeaders };

/** The client went away before its body arrived: there is nobody left to answer. */
export class RequestAbortedError extends Error {
  constructor() {
    super('the client closed the request before its body was complete');
    this.name = 'RequestAbortedError';
  }
}

/** The body, at most `maxBytes`; PayloadTooLargeError (413) beyond, with the rest left unread. */
export function readBodyCapped(req: NodeRequest, maxBytes: number, what = 'the request body'): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    try {
      if (Number.isFinite(declared)) checkBodySize(declared, maxBytes, what);
    } catch (err) {
      return reject(err);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      try {
        checkBodySize(size, maxBytes, what);
      } catch (err) {
        return stop(err);
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      req.off('close', onClose);
      resolve(Buffer.concat(chunks, size));
    };
    const onError = () => stop(new RequestAbortedError());
    // 'close' before 'end': the connection went away mid-body.
    const onClose = () => stop(new RequestAbortedError());
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}
