/**
 * The local runner's ingress port: HTTP/1.1 and HTTP/2 (cleartext, prior knowledge) on one port.
 *
 *   HTTP/1.1 (any)                      ─┐
 *   HTTP/2 Connect, gRPC-web, JSON, …    ├─ API Gateway emulation → ingress Lambda handler
 *   HTTP/2 application/grpc              ─── native gRPC unary (real HTTP/2 trailers)
 *   HTTP/2 health / reflection           ─── Connect-ES router (gRPC, gRPC-web, Connect; bidi)
 *
 * Native gRPC and reflection exist only here: API Gateway cannot carry HTTP/2 trailers to and
 * from a Lambda (see docs/grpc.md). Everything else keeps the exact AWS code path.
 *
 * Node 20's `http2.createServer({ allowHTTP1: true })` does not serve HTTP/1.1 over cleartext,
 * so a TCP server reads the first bytes: the HTTP/2 connection preface goes to the HTTP/2
 * server, anything else to the HTTP/1.1 one.
 *
 * Slow and idle clients are cut (lib/local/server-timeouts.ts): the first bytes must come within
 * the headers timeout, HTTP/1.1 gets Node's header/request/keep-alive limits, an HTTP/2 stream
 * must have its whole request within the request timeout and a session without streams is
 * closed once idle. Bodies stop being read at the limit.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  constants as h2constants,
  createServer as createH2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { Code, RestlessError, UnsupportedEncodingError } from '../errors.js';
import { MAX_INGRESS_BODY_BYTES } from '../http/limits.js';
import type { CallDeps } from '../ingress/call.js';
import {
  checkMessageSize,
  DEFAULT_MAX_MESSAGE_BYTES,
  encodeFrame,
  FRAME_HEADER_BYTES,
  frameLength,
  grpcCodecOf,
  grpcUnary,
  statusTrailers,
  type GrpcCodec,
  type GrpcReply,
} from '../ingress/grpc.js';
import { checkBuiltinMessage } from '../ingress/builtin-input.js';
import { grpcWebFormatOf } from '../ingress/grpc-web.js';
import { HEALTH_SERVICE, healthRoutes } from '../ingress/health.js';
import { ingressError } from '../ingress/ingress.js';
import { isReflectionPath, reflectionRoutes } from '../ingress/reflection.js';
import { listen, serveThroughLambda, type LambdaHttpHandler } from './http-front.js';
import { checkFirstEnvelope } from './first-envelope.js';
import { RequestAbortedError } from './request-body.js';
import { DEFAULT_SERVER_TIMEOUTS, http1Options, type ServerTimeouts } from './server-timeouts.js';

export interface IngressServerOptions {
  /** The ingress Lambda handler, called through the API Gateway emulation. */
  lambda: LambdaHttpHandler;
  /** The runtime pieces native gRPC calls use (the same ones the Lambda handler uses). */
  deps: CallDeps;
  /** Largest gRPC request message, compressed or inflated; default the ingress body limit (1 MiB). */
  maxMessageBytes?: number;
  /** Largest request body of the other protocols; default 1 MiB. */
  maxBodyBytes?: number;
  /** Limits for slow and idle clients; default DEFAULT_SERVER_TIMEOUTS. */
  timeouts?: ServerTimeouts;
}

export interface IngressServer {
  /** Listens; resolves with the port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export function createIngressServer(opts: IngressServerOptions): IngressServer {
  const maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const timeouts = opts.timeouts ?? DEFAULT_SERVER_TIMEOUTS;
  const front = {
    maxBodyBytes: opts.maxBodyBytes ?? MAX_INGRESS_BODY_BYTES,
    refuse: (err: RestlessError, headers: IncomingMessage['headers']) => ingressError(String(headers['content-type'] ?? '') || null, err),
  };
  const builtins = connectNodeAdapter({
    readMaxBytes: maxBytes,
    routes: (router) => {
      healthRoutes(opts.deps.resolver)(router);
      reflectionRoutes(opts.deps.resolver)(router);
    },
  });

  const handle = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    const fail = (err: unknown) => {
      if (err instanceof RequestAbortedError) return void res.destroy();
      opts.deps.log.log('error', 'local ingress request failed', { error: err });
      // A status text set by a write that failed half-way would otherwise stay ("500 OK").
      if (!res.headersSent && req.httpVersionMajor === 2) res.writeHead(500);
      else if (!res.headersSent) (res as ServerResponse).writeHead(500, 'Internal Server Error');
      res.end();
    };
    if (req.httpVersionMajor === 2) {
      limitRequestTime(req as Http2ServerRequest, timeouts.requestMs);
      const path = (req.url ?? '/').split('?')[0]!;
      const nativeGrpc = grpcCodecOf(req.headers['content-type'] ?? null);
      // Reflection streams need HTTP/2 whatever the protocol; health over Connect and gRPC-web takes the Lambda path.
      if (isReflectionPath(path) || (nativeGrpc && path.startsWith(`/${HEALTH_SERVICE}/`))) {
        return void serveBuiltin(req as Http2ServerRequest, res as Http2ServerResponse, path).catch(fail);
      }
      const codec = req.method === 'POST' ? nativeGrpc : undefined;
      if (codec) return void serveGrpc(opts.deps, req as Http2ServerRequest, res as Http2ServerResponse, codec, maxBytes).catch(fail);
    }
    // serveThroughLambda reads only what the HTTP/1 and HTTP/2 compatibility objects share.
    serveThroughLambda(opts.lambda, req as IncomingMessage, res as ServerResponse, front).catch(fail);
  };

  /** Health and reflection through Connect-ES, once their first gRPC message passed our checks. */
  const serveBuiltin = async (req: Http2ServerRequest, res: Http2ServerResponse, path: string) => {
    const contentType = req.headers['content-type'] ?? '';
    const format = grpcCodecOf(contentType) ?? grpcWebFormatOf(contentType)?.codec;
    const text = grpcWebFormatOf(contentType)?.text === true;
    const refusal =
      format && !text
        ? await checkFirstEnvelope(req, { unary: !isReflectionPath(path), maxBytes, validate: (m) => checkBuiltinMessage(path, format, m) })
        : undefined;
    if (!refusal) return builtins(req, res);
    const accept: Record<string, string> = refusal instanceof UnsupportedEncodingError ? { 'grpc-accept-encoding': refusal.accepted.join(',') } : {};
    req.stream.respond({ ':status': 200, 'content-type': contentType, ...accept, ...statusTrailers(refusal.code, refusal.message) }, { endStream: true });
    req.stream.close(h2constants.NGHTTP2_NO_ERROR);
  };

  const h1 = createHttpServer(http1Options(timeouts), handle);
  // Node checks headersTimeout/requestTimeout only for servers that emitted 'listening'; this one
  // is handed its sockets instead of listening, so start the checks by hand.
  h1.emit('listening');
  const h2 = createH2Server(handle);
  h2.on('session', (session: ServerHttp2Session) => closeWhenIdle(session, timeouts.h2IdleMs));
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    // Small frames (headers, data, trailers) must not wait for delayed ACKs (Nagle: ~40 ms a call).
    socket.setNoDelay(true);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // A client that sends nothing (or too little to tell the protocol) is cut like slow headers.
    const silent = setTimeout(() => socket.destroy(), timeouts.headersMs);
    socket.once('close', () => clearTimeout(silent));
    sniff(socket, (first, isH2) => {
      clearTimeout(silent);
      if (isH2) {
        h2.emit('connection', replay(socket, first));
      } else {
        socket.unshift(first);
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });

  return {
    listen: (port, host = '127.0.0.1') => listen(server, port, host),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        h1.closeAllConnections();
        h1.close(() => undefined);
        server.close(() => resolve());
      }),
  };
}

/**
 * An HTTP/2 session is closed (GOAWAY) once it has had no open stream for `idleMs`, however many
 * PINGs or SETTINGS keep its socket busy.
 */
function closeWhenIdle(session: ServerHttp2Session, idleMs: number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => {
      session.close();
      // A peer that ignores GOAWAY and keeps the socket open is cut a second later.
      setTimeout(() => session.destroy(), 1000).unref();
    }, idleMs);
    timer.unref();
  };
  arm();
  session.on('stream', (stream) => {
    open++;
    clearTimeout(timer);
    stream.once('close', () => {
      if (--open === 0 && !session.closed && !session.destroyed) arm();
    });
  });
  session.once('close', () => clearTimeout(timer));
}

/** An HTTP/2 request whose body has not fully arrived within `requestMs` is reset (CANCEL). */
function limitRequestTime(req: Http2ServerRequest, requestMs: number): void {
  if (req.complete) return;
  const timer = setTimeout(() => {
    if (!req.complete && !req.stream.destroyed) req.stream.close(h2constants.NGHTTP2_CANCEL);
  }, requestMs);
  timer.unref();
  const clear = () => clearTimeout(timer);
  req.once('end', clear);
  req.stream.once('close', clear);
}

/** Reads until the bytes either are or cannot be the HTTP/2 preface, then hands the socket on. */
function sniff(socket: Socket, then: (first: Buffer, isH2: boolean) => void): void {
  let buf = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const n = Math.min(buf.length, PREFACE.length);
    const prefix = buf.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (prefix && n < PREFACE.length) return;
    socket.off('data', onData);
    socket.pause();
    then(buf, prefix);
  };
  socket.on('data', onData);
}

/**
 * The socket as a stream that first replays the sniffed bytes. Node's HTTP/2 server reads a real
 * socket through its native handle, which would miss them; a plain Duplex is read in JS instead.
 */
function replay(socket: Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, encoding, cb) => void socket.write(chunk, encoding, cb),
    final: (cb) => {
      socket.end();
      cb();
    },
    destroy: (err, cb) => {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(first);
  socket.on('data', (chunk) => {
    if (!d.push(chunk)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  for (const name of ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort'] as const) {
    Object.defineProperty(d, name, { get: () => socket[name] });
  }
  Object.assign(d, {
    setTimeout: (ms: number, cb?: () => void) => (socket.setTimeout(ms, cb), d),
    setNoDelay: (v?: boolean) => (socket.setNoDelay(v), d),
    setKeepAlive: (v?: boolean, ms?: number) => (socket.setKeepAlive(v, ms), d),
  });
  return d;
}

/**
 * One native gRPC unary call: buffer the request (refusing an oversized message as soon as its
 * header arrives), run it, answer with headers, the message frame and `grpc-status` trailers.
 */
async function serveGrpc(deps: CallDeps, req: Http2ServerRequest, res: Http2ServerResponse, codec: GrpcCodec, maxBytes: number): Promise<void> {
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  let reply: GrpcReply;
  let unreadBody = false;
  try {
    const body = await readBody(req, maxBytes);
    reply = await grpcUnary(deps, { path: (req.url ?? '/').split('?')[0]!, headers, body, codec, signal: abort.signal }, { maxMessageBytes: maxBytes });
  } catch (err) {
    if (!(err instanceof RestlessError)) throw err;
    unreadBody = true;
    const accept: Record<string, string> = err instanceof UnsupportedEncodingError ? { 'grpc-accept-encoding': err.accepted.join(',') } : {};
    reply = { headers: accept, status: err.code, statusMessage: err.message };
  }
  if (res.closed || res.destroyed) return;
  if (unreadBody) {
    // The rest of a refused body is never read: a trailers-only answer (one HEADERS frame that
    // ends the stream), then RST_STREAM NO_ERROR, which Node sends once that is out.
    req.stream.respond(
      { ':status': 200, 'content-type': `application/grpc+${codec}`, ...reply.headers, ...statusTrailers(reply.status, reply.statusMessage) },
      { endStream: true },
    );
    req.stream.close(h2constants.NGHTTP2_NO_ERROR);
    return;
  }
  res.writeHead(200, { 'content-type': `application/grpc+${codec}`, ...reply.headers });
  if (reply.status === Code.Ok && reply.message) res.write(encodeFrame(reply.message));
  res.addTrailers(statusTrailers(reply.status, reply.statusMessage));
  res.end();
}

/** The request body; rejects (leaving the rest unread) once it cannot be one message within the limit. */
function readBody(req: Http2ServerRequest, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let declared: number | undefined;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      try {
        if (declared === undefined && size >= FRAME_HEADER_BYTES) declared = frameLength(Buffer.concat(chunks))!;
        if (declared !== undefined) checkMessageSize(Math.max(declared, size - FRAME_HEADER_BYTES), maxBytes);
      } catch (err) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        reject(err);
      }
    };
    let ended = false;
    const onEnd = () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', () => reject(new RequestAbortedError()));
    req.once('close', () => ended || reject(new RequestAbortedError()));
  });
}
