/**
 * How long the local servers wait for slow or idle clients. Without limits a client that opens a
 * connection and sends nothing, or trickles its headers or body a byte at a time, holds a socket
 * (and its memory) for as long as it likes. API Gateway applies its own limits on AWS.
 *
 *   connect ──▶ headers complete ──▶ body complete ──▶ answer ──▶ idle ──▶ next request
 *   |─── headers ≤ 20 s ─────|                                  |── keep-alive ≤ 65 s ──|
 *   |─── whole request ≤ 60 s ────────────────────|
 *   HTTP/2: a session without an open stream is closed after 65 s.
 */
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';

export interface ServerTimeouts {
  /** The request headers must be complete within this (ms; also the time to tell HTTP/1.1 from HTTP/2). */
  headersMs: number;
  /** The whole request, headers and body, must arrive within this (ms). */
  requestMs: number;
  /** An idle keep-alive HTTP/1.1 connection is closed after this (ms). */
  keepAliveMs: number;
  /** An HTTP/2 session with no open stream is closed (GOAWAY) after this (ms). */
  h2IdleMs: number;
}

export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = { headersMs: 20_000, requestMs: 60_000, keepAliveMs: 65_000, h2IdleMs: 65_000 };

/** Environment variables of the local runner (flags override them). */
export const SERVER_TIMEOUT_ENV: Record<keyof ServerTimeouts, string> = {
  headersMs: 'RESTLESS_HEADERS_TIMEOUT_MS',
  requestMs: 'RESTLESS_REQUEST_TIMEOUT_MS',
  keepAliveMs: 'RESTLESS_KEEP_ALIVE_TIMEOUT_MS',
  h2IdleMs: 'RESTLESS_H2_IDLE_TIMEOUT_MS',
};

/** Reads the timeouts: `values` (flags) first, then the environment, then the defaults. Throws on a bad number. */
export function serverTimeoutsFrom(values: Partial<Record<keyof ServerTimeouts, string | undefined>>, env: NodeJS.ProcessEnv = process.env): ServerTimeouts {
  const out = { ...DEFAULT_SERVER_TIMEOUTS };
  for (const key of Object.keys(DEFAULT_SERVER_TIMEOUTS) as (keyof ServerTimeouts)[]) {
    const raw = values[key] ?? env[SERVER_TIMEOUT_ENV[key]];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`${SERVER_TIMEOUT_ENV[key]} (or its flag) must be a positive whole number of milliseconds, got '${raw}'`);
    out[key] = n;
  }
  if (out.headersMs > out.requestMs)
    throw new Error(`the headers timeout (${out.headersMs} ms) cannot be longer than the request timeout (${out.requestMs} ms)`);
  return out;
}

/**
 * Node's own HTTP/1.1 limits. It checks them on an interval (30 s by default, which let a
 * 20 s limit run to 50 s), so the interval follows the shortest limit. Node closes an idle
 * keep-alive socket 1 s after `keepAliveTimeout` (the margin keeps clients from reusing a
 * socket that is being closed), so it is given 1 s less.
 */
export function http1Options(t: ServerTimeouts): ServerOptions {
  return {
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: Math.max(1, t.keepAliveMs - 1000),
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(t.headersMs / 4))),
  };
}

/**
 * Node applies its headers timeout once a request has started; a connection that never sends a
 * byte is not covered (seen on Node 20: open indefinitely). So every new connection must bring
 * its first request within the headers timeout; later ones fall under keep-alive and Node's limits.
 */
export function cutSilentConnections(server: Server, headersMs: number): void {
  const waiting = new WeakMap<Socket, NodeJS.Timeout>();
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), headersMs);
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
  server.on('request', (req: { socket: Socket }) => clearTimeout(waiting.get(req.socket)));
}
