/**
 * The local stand-in for API Gateway: a Node HTTP server that turns each request into the
 * payload 2.0 event API Gateway would send, calls the same Lambda handler, and writes the result.
 * Like API Gateway it bounds what a client may do: body size (reading stops at the limit) and
 * how long headers, body and idle connections may take (lib/local/server-timeouts.ts).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { constants as h2, type Http2ServerRequest } from 'node:http2';
import type { Server as NetServer } from 'node:net';
import { PayloadTooLargeError, type RestlessError } from '../errors.js';
import { eventFromRequest, responseFromResult, type ApiGatewayEvent, type ApiGatewayResult } from '../http/apigw.js';
import type { LambdaContextLike } from '../http/lambda.js';
import type { HttpResponse } from '../http/types.js';
import { readBodyCapped, RequestAbortedError } from './request-body.js';
import { cutSilentConnections, DEFAULT_SERVER_TIMEOUTS, http1Options, type ServerTimeouts } from './server-timeouts.js';

export type LambdaHttpHandler = (event: ApiGatewayEvent, context: LambdaContextLike) => Promise<ApiGatewayResult>;

export interface LambdaFrontOptions {
  /** Largest request body; reading stops there and `refuse` answers. */
  maxBodyBytes: number;
  /** The answer to a request refused before the handler ran (a body over the limit), in the route's error shape. */
  refuse: (err: RestlessError, headers: IncomingHttpHeaders) => HttpResponse;
  /** The Lambda timeout the handler sees (getRemainingTimeInMillis). Default 30 s. */
  lambdaTimeoutMs?: number;
}

let requestCounter = 0;

/** Calls a Lambda handler for one Node request (HTTP/1.1 or HTTP/2), as API Gateway would. */
export async function serveThroughLambda(handler: LambdaHttpHandler, req: IncomingMessage, res: ServerResponse, opts: LambdaFrontOptions): Promise<void> {
  let body: Uint8Array;
  try {
    body = await readBodyCapped(req, opts.maxBodyBytes);
  } catch (err) {
    if (err instanceof RequestAbortedError) return;
    if (!(err instanceof PayloadTooLargeError)) throw err;
    return writeResponse(req, res, opts.refuse(err, req.headers), { unreadBody: true });
  }
  const event = eventFromRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, sourceIp: req.socket.remoteAddress });
  const deadline = Date.now() + (opts.lambdaTimeoutMs ?? 30_000);
  const context: LambdaContextLike = { awsRequestId: `local-${++requestCounter}`, getRemainingTimeInMillis: () => deadline - Date.now() };
  let out;
  try {
    out = responseFromResult(await handler(event, context));
  } catch (err) {
    // API Gateway answers 500 "Internal Server Error" when the integration fails.
    console.error(JSON.stringify({ level: 'error', msg: 'handler threw', error: String(err) }));
    out = { status: 500, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"message":"Internal Server Error"}') };
  }
  writeResponse(req, res, out, { unreadBody: false });
}

/**
 * Writes an answer. When the client is still sending a body we will not read, the connection
 * (HTTP/1.1) or the stream (HTTP/2: RST_STREAM NO_ERROR after the answer, as RFC 9113 §8.1
 * allows) is closed, so the rest is never read.
 */
function writeResponse(req: IncomingMessage, res: ServerResponse, out: HttpResponse, opts: { unreadBody: boolean }): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...out.headers, 'content-length': String(out.body.length) };
  const h2stream = req.httpVersionMajor === 2 ? (req as unknown as Http2ServerRequest).stream : undefined;
  if (opts.unreadBody && !h2stream) headers.connection = 'close';
  res.writeHead(out.status, headers);
  res.end(out.body);
  // Node sends a NO_ERROR reset only once the answer is flushed.
  if (opts.unreadBody && h2stream) h2stream.close(h2.NGHTTP2_NO_ERROR);
}

/** The admin port: an HTTP/1.1 server in front of a Lambda handler, with the given timeouts. */
export function createLambdaFront(handler: LambdaHttpHandler, opts: LambdaFrontOptions & { timeouts?: ServerTimeouts }): Server {
  const timeouts = opts.timeouts ?? DEFAULT_SERVER_TIMEOUTS;
  const server = createServer(http1Options(timeouts), (req, res) => {
    serveThroughLambda(handler, req, res, opts).catch((err) => {
      console.error(JSON.stringify({ level: 'error', msg: 'local front failed', error: String(err) }));
      if (!res.headersSent) res.writeHead(500, 'Internal Server Error');
      res.end();
    });
  });
  cutSilentConnections(server, timeouts.headersMs);
  return server;
}

/** Listens on `port` (0 = any free one) and resolves with the port; a taken port is a clear error. */
export function listen(server: NetServer, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} is already in use (set another with a flag, see --help)`) : err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
