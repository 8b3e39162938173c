/**
 * Keep-alive connections to one target, for the lean client's HTTP client: idle sockets are reused
 * last-in first-out, at most `maxSockets` are open, and further requests wait in turn for one. A
 * connection carries one exchange at a time; its socket's events go to that exchange, or, while
 * idle, drop the connection (the server closed it, or sent bytes nobody asked for).
 */
import type net from 'node:net';
import tls from 'node:tls';

/** The exchange a connection carries: it gets the socket's events until it releases the connection. */
export interface Exchange {
  data(chunk: Buffer): void;
  /** The peer ended its side, or the socket closed. */
  closed(): void;
  error(err: Error): void;
  timeout(): void;
  /** The connection is open (TLS: the handshake is done). */
  connected(): void;
}

export interface PoolOptions {
  maxSockets: number;
  /** An idle socket is closed after this long. */
  idleTimeoutMs: number;
}

export class Connection {
  exchange: Exchange | undefined;
  /** Closed, or closing: never handed out again. */
  dead = false;
  /** Open (TLS: the handshake done), not still connecting. */
  connected = false;
  /** When the connection last went idle (Date.now()). */
  idleSince = 0;

  constructor(
    readonly socket: net.Socket,
    private readonly pool: ConnectionPool,
  ) {
    socket.on('data', (chunk: Buffer) => (this.exchange ? this.exchange.data(chunk) : this.drop()));
    socket.on('end', () => this.gone());
    socket.on('close', () => {
      this.gone();
      pool.closed(this);
    });
    // An error is always followed by 'close'; while idle, that is all there is to it.
    socket.on('error', (err) => {
      this.dead = true;
      this.exchange?.error(err);
    });
    socket.on('timeout', () => (this.exchange ? this.exchange.timeout() : this.drop()));
    socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      this.exchange?.connected();
    });
  }

  /** Closes the connection; its exchange, if any, hears of it as a close. */
  drop(): void {
    this.dead = true;
    this.socket.destroy();
  }

  private gone(): void {
    this.dead = true;
    this.exchange?.closed();
  }
}

export class ConnectionPool {
  private readonly idle: Connection[] = [];
  private readonly waiting: ((connection: Connection | Error) => void)[] = [];
  private readonly all = new Set<Connection>();

  constructor(
    private readonly connect: () => net.Socket,
    private readonly options: PoolOptions,
  ) {}

  /** Hands a connection to `use`: an idle one, a new one, or the next one released (an Error if the pool is destroyed first). */
  acquire(use: (connection: Connection | Error) => void): void {
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      // A destroyed socket would swallow the request silently.
      if (c.dead || c.socket.destroyed) continue;
      // Idle past its time, its timer not run yet (a Lambda sandbox frozen between invocations): the server may have dropped it.
      if (Date.now() - c.idleSince > this.options.idleTimeoutMs) {
        c.drop();
        continue;
      }
      c.socket.ref();
      return use(c);
    }
    if (this.all.size < this.options.maxSockets) return this.openFor(use);
    this.waiting.push(use);
  }

  /** The exchange is over; `reusable`: the connection is in step for another request. */
  release(c: Connection, reusable: boolean): void {
    c.exchange = undefined;
    if (!reusable || c.dead) return c.drop();
    const next = this.waiting.shift();
    if (next) return next(c);
    c.socket.setTimeout(this.options.idleTimeoutMs);
    c.idleSince = Date.now();
    // An idle socket must not keep the process alive.
    c.socket.unref();
    this.idle.push(c);
  }

  /** Closes every connection, idle or busy (their exchanges fail) and fails the waiting requests; later requests open new connections. */
  destroy(): void {
    for (const use of this.waiting.splice(0)) use(new Error('the HTTP client was destroyed'));
    for (const c of [...this.all]) c.drop();
  }

  /** Called by a connection whose socket has closed. */
  closed(c: Connection): void {
    if (!this.all.delete(c)) return;
    const at = this.idle.indexOf(c);
    if (at !== -1) this.idle.splice(at, 1);
    // A slot is free: the next waiting request gets a new connection. One that cannot be opened
    // fails its request at once and frees the slot again: the next in line tries in turn.
    while (this.waiting.length > 0 && this.all.size < this.options.maxSockets) this.openFor(this.waiting.shift()!);
  }

  /** Open connections (busy, idle or connecting). */
  get size(): number {
    return this.all.size;
  }

  private openFor(use: (connection: Connection | Error) => void): void {
    let socket: net.Socket;
    try {
      socket = this.connect();
    } catch (err) {
      // Bad connection options throw at once: that request fails, not the socket event that asked.
      return use(err as Error);
    }
    const c = new Connection(socket, this);
    this.all.add(c);
    use(c);
  }
}
