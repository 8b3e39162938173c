/**
 * HTTP/2 transport for `http://` endpoints: cleartext HTTP/2 with prior knowledge (h2c), which is
 * what the SDK's `listen()` server speaks (docs/protocol.md §1.2). `https://` endpoints get HTTP/2
 * over TLS through the same code. One session per origin, shared by all calls.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { TransportError } from './errors.js';
import { mergeHeaders, normalizeResponseHeaders } from './headers.js';
import type { EndpointRequest, EndpointResponse, EndpointTransport } from './types.js';

/**
 * Keeps one HTTP/2 session per origin. Idle sessions are unref'd so they never hold a Lambda
 * or a test process open; a session that errors, closes or receives GOAWAY is forgotten and the
 * next call dials again.
 */
export class H2cSessionPool {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private readonly inFlight = new Map<ClientHttp2Session, number>();

  /** The live session for `origin` (dialling if needed), held until `release`. */
  acquire(origin: string): ClientHttp2Session {
    let session = this.sessions.get(origin);
    if (session === undefined || session.closed || session.destroyed) {
      session = this.dial(origin);
    }
    const count = (this.inFlight.get(session) ?? 0) + 1;
    this.inFlight.set(session, count);
    if (count === 1) session.ref();
    return session;
  }

  release(session: ClientHttp2Session): void {
    const count = (this.inFlight.get(session) ?? 1) - 1;
    if (count > 0) {
      this.inFlight.set(session, count);
      return;
    }
    this.inFlight.delete(session);
    if (!session.destroyed) session.unref();
  }

  /** Closes every session (tests, local runner shutdown). */
  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(
      sessions.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.closed || s.destroyed) return resolve();
            s.close(() => resolve());
          }),
      ),
    );
  }

  private dial(origin: string): ClientHttp2Session {
    const session = http2.connect(origin);
    // Every concurrent call listens for session errors while it runs.
    session.setMaxListeners(0);
    const forget = () => {
      if (this.sessions.get(origin) === session) this.sessions.delete(origin);
    };
    // A session error with no listener would crash the process; the calls report it themselves.
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    session.unref();
    this.sessions.set(origin, session);
    return session;
  }
}

/** Shared by every H2cTransport that is not given its own pool. */
export const defaultH2cPool = new H2cSessionPool();

export interface H2cTransportOptions {
  additionalHeaders?: Record<string, string>;
  pool?: H2cSessionPool;
}

/** Calls one endpoint registered as `http(s)://host:port/prefix`. */
export class H2cTransport implements EndpointTransport {
  private readonly origin: string;
  /** The registered URI's path without a trailing slash: `/prefix` or ``. */
  private readonly basePath: string;
  private readonly additionalHeaders: Record<string, string>;
  private readonly pool: H2cSessionPool;

  constructor(uri: string, options: H2cTransportOptions = {}) {
    const url = new URL(uri);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`not an http(s) URI: ${uri}`);
    }
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.additionalHeaders = options.additionalHeaders ?? {};
    this.pool = options.pool ?? defaultH2cPool;
  }

  async call(req: EndpointRequest): Promise<EndpointResponse> {
    const { signal } = req;
    if (signal?.aborted) throw abortedError(this.origin, signal);
    const session = this.pool.acquire(this.origin);
    try {
      return await this.exchange(session, req);
    } finally {
      this.pool.release(session);
    }
  }

  private exchange(session: ClientHttp2Session, req: EndpointRequest): Promise<EndpointResponse> {
    const { signal } = req;
    const path = this.basePath + req.path;
    return new Promise<EndpointResponse>((resolve, reject) => {
      let settled = false;
      let status = 0;
      let headers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      let stream: ClientHttp2Stream | undefined;

      const cleanup = () => {
        session.off('error', onSessionError);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: TransportError) => {
        if (settled) return;
        settled = true;
        cleanup();
        if (stream !== undefined && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(err);
      };
      const onSessionError = (err: Error) => fail(new TransportError(`cannot reach endpoint ${this.origin}: ${err.message}`, { cause: err }));
      const onAbort = () => fail(abortedError(this.origin, signal));

      session.on('error', onSessionError);
      signal?.addEventListener('abort', onAbort, { once: true });

      try {
        // An empty body (discovery) ends the stream with the headers: the SDK never reads it.
        stream = session.request(
          {
            ':method': 'POST',
            ':path': path,
            ...mergeHeaders(this.additionalHeaders, req.headers),
          },
          { endStream: req.body.byteLength === 0 },
        );
      } catch (err) {
        fail(new TransportError(`call to ${this.origin}${path} failed: ${(err as Error).message}`, { cause: err }));
        return;
      }
      const s = stream;
      s.on('response', (h: IncomingHttpHeaders) => {
        status = Number(h[':status'] ?? 0);
        headers = normalizeResponseHeaders(h);
      });
      s.on('data', (chunk: Buffer) => chunks.push(chunk));
      s.on('end', () => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve({ status, headers, body: new Uint8Array(Buffer.concat(chunks)) });
      });
      s.on('error', (err: Error) => fail(new TransportError(`call to ${this.origin}${path} failed: ${err.message}`, { cause: err })));
      // Every stream closes, also after 'end': build the error only when it means something.
      s.on('close', () => {
        if (!settled) fail(new TransportError(`call to ${this.origin}${path} closed before the response ended (HTTP/2 code ${s.rstCode})`));
      });
      if (req.body.byteLength > 0) s.end(req.body);
    });
  }
}

function abortedError(origin: string, signal: AbortSignal | undefined): TransportError {
  return new TransportError(`call to ${origin} aborted`, { cause: signal?.reason });
}
