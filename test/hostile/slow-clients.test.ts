/**
 * Hostile input, issue item 1: slow and idle clients are cut on both local ports, and hundreds
 * of them do not keep a normal call from answering. Timeouts are shortened through the servers'
 * options (the defaults are 20 s headers, 60 s request, 65 s keep-alive and HTTP/2 idle).
 */
import { connect as h2connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawConnect, startStack, trickle, type RawClient, type Stack } from './support.js';

const TIMEOUTS = { headersMs: 600, requestMs: 1500, keepAliveMs: 1500, h2IdleMs: 800 };
/** Node checks its HTTP/1.1 limits on an interval; closing may come this much later. */
const SLACK_MS = 700;

const GREET = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Pete"}' };

describe('slow and idle clients', () => {
  let stack: Stack;
  const ports = () => ({ ingress: stack.ingressPort, admin: stack.adminPort });

  beforeAll(async () => {
    stack = await startStack({ timeouts: TIMEOUTS });
  });
  afterAll(() => stack?.close());

  it.each([{ port: 'ingress' as const }, { port: 'admin' as const }])(
    'closes a $port connection that sends nothing once the headers timeout passes',
    async ({ port }) => {
      // Act
      const client = await rawConnect(ports()[port]);
      const closedAfter = await client.closed;

      // Assess
      expect(closedAfter).toBeGreaterThanOrEqual(TIMEOUTS.headersMs - 50);
      expect(closedAfter).toBeLessThan(TIMEOUTS.headersMs + SLACK_MS);
    },
  );

  it.each([{ port: 'ingress' as const }, { port: 'admin' as const }])('closes a $port connection trickling its headers a byte at a time', async ({ port }) => {
    // Arrange
    const client = await rawConnect(ports()[port]);

    // Act: a byte every 100 ms keeps the socket busy but never completes the headers.
    const stop = trickle(client, `GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`, 100);
    const closedAfter = await client.closed;
    stop();

    // Assess
    expect(closedAfter).toBeLessThan(TIMEOUTS.headersMs + SLACK_MS);
  });

  it('closes an ingress connection whose first bytes look like the HTTP/2 preface but trickle', async () => {
    // Arrange
    const client = await rawConnect(stack.ingressPort);

    // Act
    const stop = trickle(client, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 100);
    const closedAfter = await client.closed;
    stop();

    // Assess
    expect(closedAfter).toBeLessThan(TIMEOUTS.headersMs + SLACK_MS);
  });

  it.each([
    { port: 'ingress' as const, path: '/org.example.Greeter/Greet' },
    { port: 'admin' as const, path: '/endpoints' },
  ])('closes a $port request whose body trickles past the request timeout, with 408', async ({ port, path }) => {
    // Arrange
    const client = await rawConnect(ports()[port]);
    client.socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`);

    // Act
    const stop = trickle(client, ' '.repeat(100), 100);
    const closedAfter = await client.closed;
    stop();

    // Assess
    expect(closedAfter).toBeGreaterThanOrEqual(TIMEOUTS.requestMs - 50);
    expect(closedAfter).toBeLessThan(TIMEOUTS.requestMs + SLACK_MS);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it.each([{ port: 'ingress' as const }, { port: 'admin' as const }])(
    'closes an idle $port keep-alive connection after the keep-alive timeout',
    async ({ port }) => {
      // Arrange: one complete request, answered.
      const client = await rawConnect(ports()[port]);
      const body = '{}';
      client.socket.write(
        port === 'admin'
          ? 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'
          : `POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      const answeredAt = await waitFor(() => /HTTP\/1\.1 200/.test(client.received()));

      // Act
      const closedAfter = await client.closed;

      // Assess
      expect(closedAfter - answeredAt).toBeGreaterThanOrEqual(TIMEOUTS.keepAliveMs - 100);
      expect(closedAfter - answeredAt).toBeLessThan(TIMEOUTS.keepAliveMs + SLACK_MS);
    },
  );

  it('closes an idle HTTP/2 session with GOAWAY after the idle timeout, PINGs notwithstanding', async () => {
    // Arrange
    const session = h2connect(stack.ingressUrl);
    const started = Date.now();
    session.on('error', () => undefined);
    // A ping on a session already closing throws (from a timer: an unhandled error for the run).
    const pings = setInterval(() => {
      if (session.destroyed || session.closed) return;
      try {
        session.ping(() => undefined);
      } catch {
        // closed between the check and the ping
      }
    }, 100);

    // Act
    const goaway = new Promise<number>((r) => session.once('goaway', () => r(Date.now() - started)));
    const closed = new Promise<number>((r) => session.once('close', () => r(Date.now() - started)));
    const [goawayAfter, closedAfter] = await Promise.all([goaway, closed]);
    clearInterval(pings);

    // Assess
    expect(goawayAfter).toBeGreaterThanOrEqual(TIMEOUTS.h2IdleMs - 50);
    expect(closedAfter).toBeLessThan(TIMEOUTS.h2IdleMs + SLACK_MS + 1000);
  });

  it('resets an HTTP/2 stream whose body trickles past the request timeout', async () => {
    // Arrange
    const session = h2connect(stack.ingressUrl);
    session.on('error', () => undefined);
    const started = Date.now();
    const stream = session.request({ ':method': 'POST', ':path': '/org.example.Greeter/Greet', 'content-type': 'application/json' });
    stream.on('error', () => undefined);
    stream.write('{');
    const writes = setInterval(() => !stream.destroyed && stream.write(' '), 100);

    // Act
    const closedAfter = await new Promise<number>((r) => stream.once('close', () => r(Date.now() - started)));
    clearInterval(writes);
    session.destroy();

    // Assess
    expect(closedAfter).toBeGreaterThanOrEqual(TIMEOUTS.requestMs - 50);
    expect(closedAfter).toBeLessThan(TIMEOUTS.requestMs + SLACK_MS);
    expect(stream.rstCode).toBe(8); // CANCEL
  });
});

describe('hundreds of slow clients beside a normal call', () => {
  const HELD_MS = 4000;
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ timeouts: { headersMs: HELD_MS, requestMs: HELD_MS * 2, keepAliveMs: HELD_MS, h2IdleMs: HELD_MS } });
    // Warm: registry cache, endpoint session, table.
    expect((await fetch(`${stack.ingressUrl}/org.example.Greeter/Greet`, GREET)).status).toBe(200);
  });
  afterAll(() => stack?.close());

  it('answers a normal call promptly while 300 idle and trickling sockets are open, then cuts them all', async () => {
    // Arrange: 100 silent, 100 trickling headers, 50 trickling a body on the ingress; 50 silent on admin.
    const clients: RawClient[] = [];
    const stops: (() => void)[] = [];
    for (let i = 0; i < 250; i++) {
      const client = await rawConnect(stack.ingressPort);
      clients.push(client);
      if (i % 5 === 1 || i % 5 === 2)
        stops.push(trickle(client, `POST /org.example.Greeter/Greet HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(500)}\r\n\r\n`, 200));
      if (i % 5 === 3) {
        client.socket.write('POST /org.example.Greeter/Greet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
        stops.push(trickle(client, ' '.repeat(1000), 200));
      }
    }
    for (let i = 0; i < 50; i++) clients.push(await rawConnect(stack.adminPort));

    // Act
    const started = Date.now();
    const res = await fetch(`${stack.ingressUrl}/org.example.Greeter/Greet`, GREET);
    const tookMs = Date.now() - started;
    console.log(`normal call beside 300 slow sockets: ${tookMs} ms`);
    const admin = await fetch(`${stack.adminUrl}/health`);
    const stillOpen = clients.filter((c) => !c.isClosed()).length;
    const closedAfter = await Promise.all(clients.map((c) => c.closed));
    stops.forEach((stop) => stop());

    // Assess
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ greeting: 'Hello Pete' });
    expect(tookMs).toBeLessThan(1000);
    expect(admin.status).toBe(200);
    expect(stillOpen).toBe(300);
    expect(Math.max(...closedAfter)).toBeLessThan(HELD_MS * 2 + 2000);
  }, 30_000);
});

/** Polls until `test()` holds; resolves with the milliseconds since the call. */
async function waitFor(test: () => boolean, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (!test()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}
