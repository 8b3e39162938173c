/**
 * One HTTP POST over a keep-alive agent, with the two limits the SDK leaves off by default: a
 * connection that does not open in time, and a socket that stays silent too long (a dead peer
 * must not hang a call forever). Both fail with a TimeoutError, which the retries treat as transient.
 */
import http from 'node:http';
import https from 'node:https';
import { DynamoTimeoutError } from './errors.js';

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpTarget {
  url: URL;
  agent: http.Agent;
  connectTimeoutMs: number;
  /** The longest silence on the socket while waiting for or reading the answer. */
  socketTimeoutMs: number;
}

export function keepAliveAgent(url: URL): http.Agent {
  const options = { keepAlive: true, maxSockets: 50 };
  return url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
}

export function post(target: HttpTarget, headers: Record<string, string>, body: string): Promise<HttpAnswer> {
  const { url } = target;
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request({
      agent: target.agent,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port || undefined,
      path: url.pathname + url.search,
      method: 'POST',
      headers,
    });
    let connectTimer: NodeJS.Timeout | undefined;
    req.once('socket', (socket) => {
      // A reused keep-alive socket is connected already.
      if (!socket.connecting) return;
      connectTimer = setTimeout(
        () => req.destroy(new DynamoTimeoutError(`connection to ${url.host} not open after ${target.connectTimeoutMs} ms`)),
        target.connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.setTimeout(target.socketTimeoutMs, () => req.destroy(new DynamoTimeoutError(`no answer from ${url.host} for ${target.socketTimeoutMs} ms`)));
    req.once('error', (err) => {
      clearTimeout(connectTimer);
      reject(err);
    });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('aborted', () => reject(Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' })));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end(body);
  });
}
