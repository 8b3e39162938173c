/**
 * One HTTP/1.1 POST over a pooled keep-alive connection: our own client on node:net and node:tls,
 * because Node's HTTP client costs over twice the CPU per request of writing the request as one
 * buffer and parsing the answer here (http-parser.ts). With the two limits a dead peer needs: a
 * connection that does not open in time, and a socket that stays silent too long; both fail with a
 * TimeoutError, which the retries treat as transient, as they do a connection cut mid-answer (ECONNRESET).
 *
 * Node's `http.client.*` diagnostics channels do not see these requests; they publish their own:
 * `restless:dynamodb.request.start` once a request is written, `restless:dynamodb.response.finish`
 * once its answer is complete.
 */
import dc from 'node:diagnostics_channel';
import net from 'node:net';
import tls from 'node:tls';
import { DynamoTimeoutError } from './errors.js';
import { ConnectionPool, type Connection, type Exchange } from './http-pool.js';
import { ResponseParser, type ParsedResponse } from './http-parser.js';

export interface HttpAnswer {
  status: number;
  /** Names lowercased; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

export interface HttpTargetOptions {
  connectTimeoutMs: number;
  /** The longest silence on the socket while waiting for or reading the answer. */
  socketTimeoutMs: number;
  /** Open connections at most (default 50); more requests wait for one. */
  maxSockets?: number;
  /** An idle connection is closed after this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Extra tls.connect options (tests: a `ca` for a self-signed certificate). */
  tls?: tls.ConnectionOptions;
}

export interface RequestEvent {
  host: string;
}
export interface ResponseEvent {
  host: string;
  status: number;
}
export const requestStart = dc.channel('restless:dynamodb.request.start');
export const responseFinish = dc.channel('restless:dynamodb.response.finish');

/** An endpoint (http: or https:) and its connection pool. */
export class HttpTarget {
  readonly pool: ConnectionPool;
  private readonly host: string;
  private readonly port: number;
  private readonly https: boolean;
  /** The last TLS session, so that new connections resume it instead of a full handshake. */
  private session: Buffer | undefined;

  constructor(
    readonly url: URL,
    readonly options: HttpTargetOptions,
  ) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`DynamoDB endpoint ${url.href}: not http: or https:`);
    this.https = url.protocol === 'https:';
    // URL keeps the brackets of an IPv6 literal; sockets want the bare address.
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port) || (this.https ? 443 : 80);
    this.pool = new ConnectionPool(() => this.connect(), { maxSockets: options.maxSockets ?? 50, idleTimeoutMs: options.idleTimeoutMs ?? 30_000 });
  }

  /** Closes every connection; requests under way fail. */
  destroy(): void {
    this.pool.destroy();
  }

  private connect(): net.Socket {
    const { host, port } = this;
    let socket: net.Socket;
    if (this.https) {
      const tlsSocket = tls.connect({
        ...this.options.tls,
        host,
        port,
        // SNI takes a host name, never an IP literal.
        ...(net.isIP(host) ? {} : { servername: host }),
        ALPNProtocols: ['http/1.1'],
        ...(this.session ? { session: this.session } : {}),
      });
      tlsSocket.on('session', (session: Buffer) => (this.session = session));
      socket = tlsSocket;
    } else {
      socket = net.connect({ host, port });
    }
    socket.setNoDelay(true);
    // TCP keep-alive probes find a dead peer on an idle connection.
    socket.setKeepAlive(true, 1000);
    return socket;
  }
}

/** POSTs `body` with `headers` (names lowercase; the caller's `host` and `content-length` are kept). */
export function post(target: HttpTarget, headers: Record<string, string>, body: string): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const request = serialize(target.url, headers, body);
    target.pool.acquire((c) => (c instanceof Error ? reject(c) : new Exchanging(target, c, resolve, reject).start(request)));
  });
}

/** The request line, headers and body as one string: one write, so one TCP segment when it fits. */
function serialize(url: URL, headers: Record<string, string>, body: string): string {
  let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\n`;
  let hasHost = false;
  let hasLength = false;
  for (const name in headers) {
    const value = headers[name]!;
    // A CR or LF would let a value inject headers, or end the head early.
    if (/[\r\n:]/.test(name) || /[\r\n]/.test(value)) throw new Error(`invalid HTTP header ${JSON.stringify(name)}`);
    const lower = name.toLowerCase();
    hasHost ||= lower === 'host';
    hasLength ||= lower === 'content-length';
    head += `${name}: ${value}\r\n`;
  }
  if (!hasHost) head += `host: ${url.host}\r\n`;
  if (!hasLength) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
  return `${head}\r\n${body}`;
}

/** One exchange on a connection: settles exactly once, and gives the connection back or closes it. */
class Exchanging implements Exchange {
  private readonly parser = new ResponseParser();
  private settled = false;
  private connectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: HttpTarget,
    private readonly connection: Connection,
    private readonly resolve: (answer: HttpAnswer) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  start(request: string): void {
    const { connection, target } = this;
    connection.exchange = this;
    const { socket } = connection;
    socket.setTimeout(target.options.socketTimeoutMs);
    if (!connection.connected) {
      this.connectTimer = setTimeout(
        () => this.fail(new DynamoTimeoutError(`connection to ${target.url.host} not open after ${target.options.connectTimeoutMs} ms`)),
        target.options.connectTimeoutMs,
      );
    }
    // While connecting, the socket holds the write until the connection (and TLS) is up.
    socket.write(request, 'utf8');
    if (requestStart.hasSubscribers) requestStart.publish({ host: target.url.host } satisfies RequestEvent);
  }

  connected(): void {
    clearTimeout(this.connectTimer);
  }

  data(chunk: Buffer): void {
    if (this.settled) return;
    let answer: ParsedResponse | undefined;
    try {
      answer = this.parser.push(chunk);
    } catch (err) {
      return this.fail(err as Error);
    }
    if (answer) this.finish(answer);
  }

  closed(): void {
    if (this.settled) return;
    // Read until close is a complete answer; any other is cut off.
    const answer = this.parser.end();
    if (answer) return this.finish(answer);
    this.fail(Object.assign(new Error(`connection to ${this.target.url.host} closed before the answer was complete`), { code: 'ECONNRESET' }));
  }

  error(err: Error): void {
    this.fail(err);
  }

  timeout(): void {
    this.fail(new DynamoTimeoutError(`no answer from ${this.target.url.host} for ${this.target.options.socketTimeoutMs} ms`));
  }

  private finish(answer: ParsedResponse): void {
    this.settled = true;
    clearTimeout(this.connectTimer);
    this.target.pool.release(this.connection, answer.keepAlive);
    if (responseFinish.hasSubscribers) responseFinish.publish({ host: this.target.url.host, status: answer.status } satisfies ResponseEvent);
    this.resolve({ status: answer.status, headers: answer.headers, body: answer.body });
  }

  /** A connection that failed is never reused: it is closed. */
  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.connectTimer);
    this.target.pool.release(this.connection, false);
    this.reject(err);
  }
}
