/**
 * The lean client's own HTTP/1.1 client against raw TCP and TLS peers that write exactly the bytes
 * each test needs: connection reuse, framing (content-length, chunked, read until close), answers
 * cut into any pieces, interim answers, resets, silence, malformed answers, the pool limit, TLS
 * with session resumption, and the diagnostics channels.
 */
import { execFileSync } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoTimeoutError } from '../../../lib/store/dynamo/errors.js';
import { HttpParseError, ResponseParser } from '../../../lib/store/dynamo/http-parser.js';
import { ConnectionPool } from '../../../lib/store/dynamo/http-pool.js';
import { HttpTarget, post, type HttpTargetOptions } from '../../../lib/store/dynamo/http.js';
import { retryKind } from '../../../lib/store/dynamo/retry.js';

interface RawRequest {
  head: string;
  body: string;
}

/** What the peer does with one request on one of its connections. */
type Answer = (socket: net.Socket, req: RawRequest, index: number) => void | Promise<void>;

interface Peer {
  url: string;
  /** Every connection accepted, in order. */
  sockets: net.Socket[];
  requests: RawRequest[];
  /** Connections open at once, at most. */
  maxOpen: number;
}

const servers: net.Server[] = [];
const targets: HttpTarget[] = [];
afterEach(async () => {
  for (const t of targets.splice(0)) t.destroy();
  for (const s of servers.splice(0)) {
    (s as net.Server & { sockets?: Set<net.Socket> }).sockets?.forEach((c) => c.destroy());
    await new Promise((r) => s.close(r));
  }
});

/** A TCP peer that reads each request (head and content-length body) and hands it to `answer`. */
async function peer(answer: Answer): Promise<Peer> {
  const p: Peer = { url: '', sockets: [], requests: [], maxOpen: 0 };
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    p.sockets.push(socket);
    open.add(socket);
    p.maxOpen = Math.max(p.maxOpen, open.size);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.toString('latin1', 0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const req = { head, body: pending.toString('utf8', end + 4, end + 4 + length) };
        pending = pending.subarray(end + 4 + length);
        p.requests.push(req);
        void answer(socket, req, p.requests.length - 1);
      }
    });
  });
  (server as net.Server & { sockets?: Set<net.Socket> }).sockets = open;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  p.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return p;
}

function target(url: string, options: Partial<HttpTargetOptions> = {}): HttpTarget {
  const t = new HttpTarget(new URL(url), { connectTimeoutMs: 2_000, socketTimeoutMs: 2_000, ...options });
  targets.push(t);
  return t;
}

const HEADERS = { host: 'dynamodb.test', 'content-type': 'application/x-amz-json-1.0', 'content-length': '2' };
const send = (t: HttpTarget, body = '{}') => post(t, { ...HEADERS, 'content-length': String(Buffer.byteLength(body)) }, body);
const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const closed = (s: net.Socket) => (s.destroyed ? Promise.resolve() : new Promise((r) => s.once('close', r)));

/** Writes `bytes` in the given pieces, each in its own TCP segment. */
async function writeInPieces(socket: net.Socket, bytes: Buffer, cuts: number[]): Promise<void> {
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    socket.write(bytes.subarray(at, cut));
    at = cut;
    await sleep(2);
  }
}

async function waitFor(check: () => boolean, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('http: keep-alive and framing', () => {
  it('reuses one socket for sequential requests, each written in one write with exactly the given headers', async () => {
    const p = await peer((s, req, i) => void s.write(ok(`{"n":${i}}`, 'X-Amzn-RequestId: r1\r\nx-amzn-requestid: r2\r\n')));
    const t = target(p.url);
    const first = await send(t, '{"a":1}');
    const write = vi.spyOn(net.Socket.prototype, 'write');
    const second = await send(t, '{"é":2}');
    const writes = write.mock.contexts.filter((socket) => !p.sockets.includes(socket as net.Socket)).length;
    write.mockRestore();
    const third = await send(t);
    expect([first.body, second.body, third.body]).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);
    expect(first.status).toBe(200);
    // Names lowercased, repeated values joined.
    expect(first.headers['x-amzn-requestid']).toBe('r1, r2');
    expect(first.headers['content-type']).toBe('application/json');
    expect(p.sockets).toHaveLength(1);
    expect(writes).toBe(1);
    expect(p.requests[1]!.head).toBe('POST / HTTP/1.1\r\nhost: dynamodb.test\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 8');
    expect(p.requests[1]!.body).toBe('{"é":2}');
  });

  it('adds host and content-length only when they are missing', async () => {
    const p = await peer((s) => void s.write(ok('{}')));
    const t = target(p.url.replace(/\/$/, '/path?x=1'));
    await post(t, { 'x-amz-target': 'T' }, 'abc');
    expect(p.requests[0]!.head).toBe(`POST /path?x=1 HTTP/1.1\r\nx-amz-target: T\r\nhost: ${new URL(p.url).host}\r\ncontent-length: 3`);
    await expect(post(t, { 'x-evil': 'a\r\nx-injected: 1' }, '')).rejects.toThrow(/invalid HTTP header/);
  });

  it('reads a chunked answer with chunk extensions and trailers, and keeps the socket in step', async () => {
    const p = await peer((s, _req, i) => {
      if (i === 0) s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nx-checksum: 1\r\n\r\n');
      else s.write(ok('second'));
    });
    const t = target(p.url);
    expect((await send(t)).body).toBe('hello, world');
    expect((await send(t)).body).toBe('second');
    expect(p.sockets).toHaveLength(1);
  });

  it('reads an answer delivered one byte at a time', async () => {
    const answer = Buffer.from('HTTP/1.1 200 OK\r\nX-Amzn-ErrorType: Thing\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"a"\r\nE;ext\r\n:"bé✓😀"}\r\n0\r\n\r\n');
    const p = await peer((s) =>
      writeInPieces(
        s,
        answer,
        Array.from({ length: answer.length - 1 }, (_, i) => i + 1),
      ),
    );
    const t = target(p.url);
    const got = await send(t);
    expect(got.body).toBe('{"a":"bé✓😀"}');
    expect(got.headers['x-amzn-errortype']).toBe('Thing');
    // The parser alone, fed every byte separately, agrees.
    const parser = new ResponseParser();
    const results = [...answer].map((b) => parser.push(Buffer.from([b])));
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
    expect(results.at(-1)?.body).toBe('{"a":"bé✓😀"}');
  });

  it('parses the same answer however it is split in two or three', () => {
    const answer = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\na: 1\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nñ!\r\n2\r\n✓\r\n0\r\nt: 2\r\n\r\n'.replace(
        '2\r\n✓',
        '3\r\n✓',
      ),
    );
    for (let i = 1; i < answer.length; i++) {
      for (let j = i; j < answer.length; j += 7) {
        const parser = new ResponseParser();
        const out = [parser.push(answer.subarray(0, i)), parser.push(answer.subarray(i, j)), parser.push(answer.subarray(j))].find((r) => r);
        expect(out, `split at ${i}, ${j}`).toEqual({ status: 201, headers: { a: '1', 'transfer-encoding': 'chunked' }, body: 'ñ!✓', keepAlive: true });
      }
    }
  });

  it('decodes UTF-8 characters split across TCP segments', async () => {
    const text = '{"s":"héllo ✓ 😀 日本"}';
    const answer = Buffer.from(ok(text));
    const bodyAt = answer.length - Buffer.byteLength(text);
    // Cut inside é (2 bytes), ✓ (3 bytes) and 😀 (4 bytes).
    const cuts = [bodyAt + 8, bodyAt + 15, bodyAt + 19, bodyAt + 20];
    const p = await peer((s) => writeInPieces(s, answer, cuts));
    expect((await send(target(p.url))).body).toBe(text);
  });

  it('skips interim 1xx answers', async () => {
    const p = await peer((s) => void s.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n${ok('{"done":true}')}`));
    const got = await send(target(p.url));
    expect(got.status).toBe(200);
    expect(got.body).toBe('{"done":true}');
    expect(got.headers.link).toBeUndefined();
  });

  it('reads until close when the answer has no length, and does not reuse that socket', async () => {
    const p = await peer((s, _req, i) => {
      if (i === 0) s.end('HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\n\r\nno length here');
      else s.write(ok('again'));
    });
    const t = target(p.url);
    const got = await send(t);
    expect([got.status, got.body]).toEqual([500, 'no length here']);
    expect((await send(t)).body).toBe('again');
    expect(p.sockets).toHaveLength(2);
  });

  it('does not reuse a socket answered with connection: close, and the next request works', async () => {
    const p = await peer((s, _req, i) => void s.write(ok(`{"i":${i}}`, i === 0 ? 'Connection: close\r\n' : '')));
    const t = target(p.url);
    expect((await send(t)).body).toBe('{"i":0}');
    await closed(p.sockets[0]!);
    expect((await send(t)).body).toBe('{"i":1}');
    expect(p.sockets).toHaveLength(2);
  });

  it('drops a pooled socket the server closes while idle; the next request opens a new one', async () => {
    const p = await peer((s, _req, i) => {
      s.write(ok(`{"i":${i}}`));
      if (i === 0) setTimeout(() => s.end(), 20);
    });
    const t = target(p.url);
    expect((await send(t)).body).toBe('{"i":0}');
    await waitFor(() => t.pool.size === 0);
    expect((await send(t)).body).toBe('{"i":1}');
    expect(p.sockets).toHaveLength(2);
  });

  it('drops an idle socket after the idle timeout, and idle sockets do not hold the process open', async () => {
    // Sockets that hold the process open (unref'd ones are not listed).
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    let busy = 0;
    const p = await peer((s) => {
      busy = sockets();
      s.write(ok('{}'));
    });
    const t = target(p.url, { idleTimeoutMs: 100 });
    await send(t);
    expect(t.pool.size).toBe(1);
    expect(busy - sockets()).toBe(1);
    await closed(p.sockets[0]!);
    await waitFor(() => t.pool.size === 0);
  });

  it('does not reuse a socket idle past the idle timeout whose timer has not run yet (a frozen Lambda sandbox)', async () => {
    const p = await peer((s, _req, i) => void s.write(ok(`{"i":${i}}`)));
    const t = target(p.url, { idleTimeoutMs: 10_000 });
    await send(t);
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now + 60_000);
    try {
      expect((await send(t)).body).toBe('{"i":1}');
    } finally {
      clock.mockRestore();
    }
    expect(p.sockets).toHaveLength(2);
    await closed(p.sockets[0]!);
  });

  it('queues requests beyond the pool limit; all complete, never more sockets than the limit', async () => {
    const p = await peer(async (s, req) => {
      await sleep(5);
      s.write(ok(req.body));
    });
    const t = target(p.url, { maxSockets: 3 });
    const bodies = Array.from({ length: 25 }, (_, i) => `{"i":${i}}`);
    const got = await Promise.all(bodies.map((b) => send(t, b)));
    expect(got.map((g) => g.body)).toEqual(bodies);
    expect(p.sockets).toHaveLength(3);
    expect(p.maxOpen).toBe(3);
  });
  it('a queued request gets a new socket when a busy one closes', async () => {
    const ours: { target?: HttpTarget } = {};
    let mostOpen = 0;
    const p = await peer(async (s, req) => {
      mostOpen = Math.max(mostOpen, ours.target!.pool.size);
      await sleep(2);
      s.end(ok(req.body, 'connection: close\r\n'));
    });
    const t = (ours.target = target(p.url, { maxSockets: 2 }));
    const bodies = Array.from({ length: 10 }, (_, i) => `{"i":${i}}`);
    expect((await Promise.all(bodies.map((b) => send(t, b)))).map((g) => g.body)).toEqual(bodies);
    expect(p.sockets).toHaveLength(10);
    // Counted on our side: the peer may see a new connection before the last one's close.
    expect(mostOpen).toBe(2);
  });

  it('a connection that cannot be opened for a queued request does not strand the requests queued behind it', async () => {
    // One socket at most; the first connection opens, later ones throw at once (as refused
    // connection options do). When the first closes, every queued request must settle.
    const p = await peer((s, req) => void s.end(ok(req.body, 'connection: close\r\n')));
    const t = target(p.url, { maxSockets: 1 });
    let opened = 0;
    const pool = new ConnectionPool(
      () => {
        if (opened++ > 0) throw new Error('cannot connect');
        return net.connect({ host: '127.0.0.1', port: Number(new URL(p.url).port) });
      },
      { maxSockets: 1, idleTimeoutMs: 1_000 },
    );
    (t as { pool: ConnectionPool }).pool = pool;
    const results = await Promise.race([
      Promise.allSettled([send(t, '{"i":0}'), send(t, '{"i":1}'), send(t, '{"i":2}')]),
      sleep(2_000).then(() => 'stranded' as const),
    ]);
    expect(results).not.toBe('stranded');
    expect((results as PromiseSettledResult<unknown>[]).map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
  });
});

describe('http: failures', () => {
  it('a reset mid-answer fails with an ECONNRESET-coded error, which the retries treat as transient', async () => {
    const p = await peer((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial');
      setTimeout(() => s.resetAndDestroy(), 20);
    });
    const err = (await send(target(p.url)).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).toBe('ECONNRESET');
    expect(retryKind(err)).toBe('transient');
  });

  it('a close mid-answer (before the length is reached) fails with ECONNRESET too', async () => {
    const p = await peer((s) => void s.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel'));
    const err = (await send(target(p.url)).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).toBe('ECONNRESET');
    expect(retryKind(err)).toBe('transient');
  });

  it('a silent server fails the request with a TimeoutError within the socket timeout, and the socket is closed', async () => {
    const p = await peer(() => {});
    const started = Date.now();
    const err = await send(target(p.url, { socketTimeoutMs: 150 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamoTimeoutError);
    expect(retryKind(err)).toBe('transient');
    expect(Date.now() - started).toBeLessThan(1_000);
    await closed(p.sockets[0]!);
  });

  it('a connection (TLS handshake included) that does not open in time fails with a TimeoutError', async () => {
    // Accepts TCP, never says a word: the TLS handshake never completes.
    const p = await peer(() => {});
    const started = Date.now();
    const err = (await send(target(p.url.replace('http:', 'https:'), { connectTimeoutMs: 150, socketTimeoutMs: 5_000 })).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(DynamoTimeoutError);
    expect(err.message).toMatch(/not open after 150 ms/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('connection options that tls.connect refuses fail the request', async () => {
    const t = target('https://127.0.0.1:1/', { tls: { minVersion: 'SSLv1' as tls.SecureVersion } });
    await expect(send(t)).rejects.toMatchObject({ code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' });
  });

  it('a refused connection fails with ECONNREFUSED (transient)', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    const err = await send(target(`http://127.0.0.1:${port}/`)).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    expect(retryKind(err)).toBe('transient');
  });

  it.each([
    ['a malformed status line', 'HTTP/1.1 OK\r\n\r\n', /malformed status line/],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken header\r\n\r\n', /malformed header line/],
    ['a malformed chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', /malformed chunk size/],
    ['conflicting content lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab', /malformed content-length/],
    ['an absurd body size', 'HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n', /over 67108864/],
    ['an endless head', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}`, /response head over 65536 bytes/],
  ])('%s fails with a clear error and the socket is closed', async (_name, answer, message) => {
    const p = await peer((s) => void s.write(answer));
    const err = await send(target(p.url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpParseError);
    expect((err as Error).message).toMatch(message);
    await closed(p.sockets[0]!);
  });

  it('bytes nobody asked for on an idle socket drop it; the next request uses a new socket', async () => {
    const p = await peer((s, _req, i) => {
      s.write(ok('{}'));
      if (i === 0) setTimeout(() => s.write('surprise'), 20);
    });
    const t = target(p.url);
    await send(t);
    await closed(p.sockets[0]!);
    expect((await send(t)).status).toBe(200);
    expect(p.sockets).toHaveLength(2);
  });

  it('destroy closes every socket: a request under way fails, a queued one fails, later ones work', async () => {
    const p = await peer((s, _req, i) => void (i >= 1 && s.write(ok('later'))));
    const t = target(p.url, { maxSockets: 1 });
    const busy = send(t).catch((e: unknown) => e);
    const queued = send(t).catch((e: unknown) => e);
    await waitFor(() => p.requests.length === 1);
    t.destroy();
    expect(((await busy) as { code?: string }).code).toBe('ECONNRESET');
    expect(((await queued) as Error).message).toMatch(/destroyed/);
    await closed(p.sockets[0]!);
    expect((await send(t)).body).toBe('later');
  });
});

describe('http: TLS', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'restless-http-tls-'));
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'],
        ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        // openssl prints its progress on stderr.
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function httpsPeer() {
    const seen: { servername: string | false | undefined; resumed: boolean; alpn: string | false | null }[] = [];
    const server = https.createServer({ key, cert, ALPNProtocols: ['http/1.1'] }, (req, res) => {
      const socket = req.socket as tls.TLSSocket;
      seen.push({
        servername: (socket as tls.TLSSocket & { servername?: string | false }).servername,
        resumed: socket.isSessionReused(),
        alpn: socket.alpnProtocol,
      });
      req.resume();
      req.on('end', () => {
        // Each answer closes its connection, so that the next request needs a new one.
        res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ n: seen.length }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return { seen, port: (server.address() as AddressInfo).port };
  }

  it('talks to a TLS server with the given CA, resumes the TLS session on a new connection, and sends SNI for a host name only', async () => {
    const { seen, port } = await httpsPeer();
    const byIp = target(`https://127.0.0.1:${port}/`, { tls: { ca: cert } });
    expect((await send(byIp)).body).toBe('{"n":1}');
    expect((await send(byIp)).body).toBe('{"n":2}');
    const byName = target(`https://localhost:${port}/`, { tls: { ca: cert } });
    expect((await send(byName)).body).toBe('{"n":3}');
    expect(seen.map((s) => [s.resumed, Boolean(s.servername) && s.servername, s.alpn])).toEqual([
      [false, false, 'http/1.1'],
      [true, false, 'http/1.1'],
      [false, 'localhost', 'http/1.1'],
    ]);
  });

  it('verifies the certificate: without the CA the request fails and is not retried', async () => {
    const { seen, port } = await httpsPeer();
    const err = await send(target(`https://127.0.0.1:${port}/`)).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    expect(retryKind(err)).toBeUndefined();
    expect(seen).toHaveLength(0);
  });
});

describe('http: diagnostics channels', () => {
  it('publishes request start and response finish for each request', async () => {
    const p = await peer((s) => void s.write(ok('{}')));
    const events: [string, unknown][] = [];
    const onStart = (m: unknown) => events.push(['start', m]);
    const onFinish = (m: unknown) => events.push(['finish', m]);
    dc.subscribe('restless:dynamodb.request.start', onStart);
    dc.subscribe('restless:dynamodb.response.finish', onFinish);
    try {
      await send(target(p.url));
    } finally {
      dc.unsubscribe('restless:dynamodb.request.start', onStart);
      dc.unsubscribe('restless:dynamodb.response.finish', onFinish);
    }
    const host = new URL(p.url).host;
    expect(events).toEqual([
      ['start', { host }],
      ['finish', { host, status: 200 }],
    ]);
  });
});
