/**
 * Sends one generated request the way it asks (HTTP/1.1, HTTP/2 prior knowledge, raw bytes) and
 * reads what came back: HTTP status, gRPC status (headers, trailers or a gRPC-web trailer
 * frame), Connect code, time taken. A client-side refusal (Node will not send that header) is
 * reported as such, not blamed on the server.
 */
import { Agent, request as httpRequest } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { ADMIN_URI, INGRESS_URI, type HostileRequest } from './cases.js';

export interface Ports {
  ingress: number;
  admin: number;
}

export interface Outcome {
  /** HTTP status; 0 when the server answered no HTTP status (closed, or still waiting for a raw client). */
  status: number;
  grpcStatus?: number;
  /** `code` of a Connect error body. */
  connectCode?: string;
  /** The start of the body, for reports. */
  excerpt: string;
  ms: number;
  /** No answer within the timeout. */
  hung?: boolean;
  /** Node refused to send it (invalid header or path on the client side). */
  clientRefused?: string;
  /** The connection failed (reset, closed) before an answer. */
  transportError?: string;
}

const MAX_READ = 64 * 1024;

/** Puts the runner's own ports into registration bodies. */
function fillPorts(body: Uint8Array, ports: Ports): Uint8Array {
  const text = Buffer.from(body).toString('latin1');
  if (!text.includes('{ingress}') && !text.includes('{admin}')) return body;
  return Buffer.from(text.replaceAll(INGRESS_URI, `http://127.0.0.1:${ports.ingress}`).replaceAll(ADMIN_URI, `http://127.0.0.1:${ports.admin}`), 'latin1');
}

/** One worker's connections: a keep-alive agent and an HTTP/2 session, recreated when they fail. */
export class Sender {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });
  private session: ClientHttp2Session | undefined;

  constructor(
    private readonly ports: Ports,
    private readonly timeoutMs: number,
  ) {}

  async send(req: HostileRequest): Promise<Outcome> {
    const started = Date.now();
    const body = fillPorts(req.body, this.ports);
    const port = this.ports[req.port];
    let out: Omit<Outcome, 'ms'>;
    try {
      if (req.transport === 'raw') out = await this.raw(port, req.raw ?? new Uint8Array(0));
      else if (req.transport === 'h2') out = await this.h2(port, req, body);
      else out = await this.http1(port, req, body);
    } catch (err) {
      out = { status: 0, excerpt: '', clientRefused: (err as Error).message };
    }
    return { ...out, ms: Date.now() - started };
  }

  close(): void {
    this.agent.destroy();
    this.session?.destroy();
  }

  private http1(port: number, req: HostileRequest, body: Uint8Array): Promise<Omit<Outcome, 'ms'>> {
    return new Promise((resolve, reject) => {
      // Throws synchronously when Node will not send the path or a header: a client refusal.
      const r = httpRequest(
        { host: '127.0.0.1', port, method: req.method, path: req.path, headers: { ...req.headers, 'content-length': String(body.length) }, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < MAX_READ) chunks.push(c);
            size += c.length;
          });
          res.on('end', () => {
            clearTimeout(timer);
            const data = Buffer.concat(chunks);
            resolve(describe(res.statusCode ?? 0, res.headers as Record<string, unknown>, {}, data));
          });
          res.on('error', (err) => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, excerpt: '', transportError: err.message });
          });
        },
      );
      const timer = setTimeout(() => {
        r.destroy();
        resolve({ status: 0, excerpt: '', hung: true });
      }, this.timeoutMs);
      r.on('error', (err) => {
        clearTimeout(timer);
        resolve({ status: 0, excerpt: '', transportError: err.message });
      });
      try {
        r.end(body);
      } catch (err) {
        clearTimeout(timer);
        reject(err);
      }
    });
  }

  private h2session(port: number): ClientHttp2Session {
    if (!this.session || this.session.closed || this.session.destroyed) {
      const session = h2connect(`http://127.0.0.1:${port}`);
      session.on('error', () => undefined);
      // An idle session gets GOAWAY from the server: the next request dials again.
      session.on('goaway', () => this.session === session && (this.session = undefined));
      this.session = session;
    }
    return this.session;
  }

  private h2(port: number, req: HostileRequest, body: Uint8Array): Promise<Omit<Outcome, 'ms'>> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        // Connection-specific headers are not allowed in HTTP/2; Node refuses them.
        if (['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host'].includes(k) || (k === 'te' && v !== 'trailers')) continue;
        headers[k] = v;
      }
      const stream = this.h2session(port).request({ ':method': req.method, ':path': req.path || '/', ...headers });
      let resHeaders: Record<string, unknown> = {};
      let trailers: Record<string, unknown> = {};
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (o: Omit<Outcome, 'ms'>) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(o);
      };
      const timer = setTimeout(() => {
        stream.close();
        finish({ status: 0, excerpt: '', hung: true });
      }, this.timeoutMs);
      stream.on('response', (h) => (resHeaders = h));
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (c: Buffer) => {
        if (size < MAX_READ) chunks.push(c);
        size += c.length;
      });
      const answer = () => finish(describe(Number(resHeaders[':status'] ?? 0), resHeaders, trailers, Buffer.concat(chunks)));
      stream.on('end', answer);
      // A reset after the answer (a refused body) is an answer; before it, a transport error.
      stream.on('close', () =>
        resHeaders[':status'] ? answer() : finish({ status: 0, excerpt: '', transportError: `stream closed (HTTP/2 code ${stream.rstCode})` }),
      );
      stream.on('error', () => undefined);
      stream.end(body);
    });
  }

  /** Raw bytes: the first status line within 1.5 s, or none (the server may rightly wait for more). */
  private raw(port: number, bytes: Uint8Array): Promise<Omit<Outcome, 'ms'>> {
    return new Promise((resolve) => {
      const socket = netConnect(port, '127.0.0.1');
      let data = '';
      const finish = () => {
        clearTimeout(timer);
        socket.destroy();
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0);
        resolve({ status, excerpt: data.slice(0, 120) });
      };
      const timer = setTimeout(finish, 1500);
      socket.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        if (/\r\n\r\n/.test(data)) finish();
      });
      socket.on('error', () => undefined);
      socket.on('close', finish);
      socket.write(bytes);
    });
  }
}

/** Reads status, gRPC status and Connect code out of an answer. */
function describe(status: number, headers: Record<string, unknown>, trailers: Record<string, unknown>, body: Buffer): Omit<Outcome, 'ms'> {
  const contentType = String(headers['content-type'] ?? '');
  let grpcStatus: number | undefined = numberOf(trailers['grpc-status'] ?? headers['grpc-status']);
  let payload = body;
  if (contentType.startsWith('application/grpc-web-text')) payload = Buffer.from(body.toString('latin1'), 'base64');
  if (grpcStatus === undefined && contentType.startsWith('application/grpc-web')) grpcStatus = trailerFrameStatus(payload);
  let connectCode: string | undefined;
  if (contentType.startsWith('application/json')) {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { code?: unknown };
      if (typeof parsed.code === 'string') connectCode = parsed.code;
    } catch {
      // not JSON after all
    }
  }
  return { status, grpcStatus, connectCode, excerpt: body.subarray(0, 160).toString('utf8') };
}

function numberOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isFinite(n) ? n : undefined;
}

/** grpc-status from the trailer frame (flag 0x80) of a gRPC-web body. */
function trailerFrameStatus(body: Buffer): number | undefined {
  let i = 0;
  while (i + 5 <= body.length) {
    const len = body.readUInt32BE(i + 1);
    if (body[i]! & 0x80) return numberOf(/grpc-status:\s*(\d+)/.exec(body.subarray(i + 5, i + 5 + len).toString('latin1'))?.[1]);
    i += 5 + len;
  }
  return undefined;
}
