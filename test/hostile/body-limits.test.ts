/**
 * Hostile input, issue item 5: body limits. The ingress takes at most 1 MiB (any protocol), the
 * admin API 64 KiB, an awakeable result 256 KiB (it is stored with the invocation). Over the
 * limit the local servers stop reading and answer at once, naming the limit: 413 on Connect and
 * the admin API, RESOURCE_EXHAUSTED (8) on gRPC and gRPC-web, which carry errors in their status.
 * The API Gateway event path gives the same answers.
 */
import { connect as h2connect, constants as h2, type ClientHttp2Stream } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES } from '../../lib/driver/dispatcher.js';
import { eventFromRequest, responseFromResult } from '../../lib/http/apigw.js';
import { apiGatewayHandler } from '../../lib/http/lambda.js';
import { MAX_ADMIN_BODY_BYTES, MAX_INGRESS_BODY_BYTES } from '../../lib/http/limits.js';
import { frame } from '../ingress/support.js';
import { rawConnect, startStack, type RawClient, type Stack } from './support.js';

const MB = 1024 * 1024;
const TWENTY_MB = 20 * MB;

/** Writes `bytes` in 64 KiB pieces (the socket may refuse more once the server stops reading). */
function send(client: RawClient, bytes: number): void {
  const piece = Buffer.alloc(64 * 1024, 0x20);
  for (let sent = 0; sent < bytes && !client.isClosed(); sent += piece.length) client.socket.write(piece);
}

/**
 * The code of the server's RST_STREAM. Node's client marks the stream closed on it, but emits
 * 'close' only once its own pending upload is given up, so this polls.
 */
async function resetCode(stream: ClientHttp2Stream, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (!stream.closed) {
    if (Date.now() - started > timeoutMs) throw new Error('the stream was not reset');
    await new Promise((r) => setTimeout(r, 10));
  }
  return stream.rstCode;
}

/** Waits until the raw client has a complete HTTP/1.1 head (and the body it announces). */
async function answer(client: RawClient, timeoutMs = 5000): Promise<{ status: number; head: string; body: string }> {
  const started = Date.now();
  for (;;) {
    const text = client.received();
    const end = text.indexOf('\r\n\r\n');
    if (end >= 0) {
      const head = text.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (text.length - end - 4 >= length) return { status: Number(head.slice(9, 12)), head, body: text.slice(end + 4, end + 4 + length) };
    }
    if (Date.now() - started > timeoutMs) throw new Error(`no complete answer within ${timeoutMs} ms; received ${JSON.stringify(text.slice(0, 200))}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('body limits on the local servers', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it.each([
    { $case: 'a declared 20 MB Connect body (nothing sent)', headers: `Content-Length: ${TWENTY_MB}`, sent: 0 },
    { $case: 'a declared 20 MB Connect body, 1.2 MB of it sent', headers: `Content-Length: ${TWENTY_MB}`, sent: Math.round(1.2 * MB) },
    { $case: 'a chunked Connect body of unknown length, 1.2 MB sent', headers: 'Transfer-Encoding: chunked', sent: Math.round(1.2 * MB) },
  ])('answers 413 for $$case without waiting for the rest, and closes', async ({ headers, sent }) => {
    // Arrange
    const client = await rawConnect(stack.ingressPort);
    client.socket.write(`POST /org.example.Greeter/Greet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n\r\n`);

    // Act: send part of the body, then nothing more.
    if (headers.startsWith('Transfer')) client.socket.write(`${sent.toString(16)}\r\n`);
    send(client, sent);
    const res = await answer(client);

    // Assess
    expect(res.status).toBe(413);
    expect(res.head).toMatch(/connection: close/i);
    expect(JSON.parse(res.body)).toEqual({
      code: 'resource_exhausted',
      message: `the request body is larger than the limit of ${MAX_INGRESS_BODY_BYTES} bytes`,
    });
    expect(await client.closed).toBeGreaterThan(0);
  });

  it('answers a gRPC-web body over the limit with grpc-status 8 naming the limit', async () => {
    // Arrange
    const client = await rawConnect(stack.ingressPort);
    client.socket.write(
      `POST /org.example.Greeter/Greet HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: ${TWENTY_MB}\r\n\r\n`,
    );

    // Act
    send(client, Math.round(1.2 * MB));
    const res = await answer(client);

    // Assess
    expect(res.status).toBe(200);
    expect(res.head).toMatch(/grpc-status: 8/);
    expect(decodeURIComponent(/grpc-message: (.*)/.exec(res.head)![1]!)).toBe(`the request body is larger than the limit of ${MAX_INGRESS_BODY_BYTES} bytes`);
  });

  it.each([
    { $case: 'declared', headers: `Content-Length: ${MAX_ADMIN_BODY_BYTES + 1}`, sent: 0 },
    { $case: 'chunked', headers: 'Transfer-Encoding: chunked', sent: 100 * 1024 },
  ])('answers 413 on the admin API for a $$case body over 64 KiB', async ({ headers, sent }) => {
    // Arrange
    const client = await rawConnect(stack.adminPort);
    client.socket.write(`POST /endpoints HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n\r\n`);

    // Act
    if (sent) client.socket.write(`${sent.toString(16)}\r\n`);
    send(client, sent);
    const res = await answer(client);

    // Assess
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({ message: `the request body is larger than the limit of ${MAX_ADMIN_BODY_BYTES} bytes`, restate_code: null });
  });

  it('answers native gRPC trailers-only RESOURCE_EXHAUSTED once a frame announces more than the limit, and resets the stream', async () => {
    // Arrange
    const session = h2connect(stack.ingressUrl);
    const stream = session.request({ ':method': 'POST', ':path': '/org.example.Greeter/Greet', 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => undefined);
    const headers = new Promise<Record<string, unknown>>((r) => stream.once('response', (h) => r(h)));
    const closed = resetCode(stream);

    // Act: a frame that announces 20 MB; 1.2 MB of it.
    stream.write(frame(Buffer.alloc(0), 0, TWENTY_MB));
    stream.write(Buffer.alloc(Math.round(1.2 * MB)));
    const h = await headers;
    const rst = await closed;
    session.destroy();

    // Assess
    expect(h[':status']).toBe(200);
    expect(h['grpc-status']).toBe('8');
    expect(decodeURIComponent(String(h['grpc-message']))).toBe(
      `the request message (${TWENTY_MB} bytes) is larger than the limit of ${MAX_INGRESS_BODY_BYTES} bytes`,
    );
    expect(rst).toBe(h2.NGHTTP2_NO_ERROR);
  });

  it('answers Connect over HTTP/2 with 413 and resets the stream (NO_ERROR) after the answer', async () => {
    // Arrange
    const session = h2connect(stack.ingressUrl);
    const stream = session.request({ ':method': 'POST', ':path': '/org.example.Greeter/Greet', 'content-type': 'application/json' });
    stream.on('error', () => undefined);
    const status = new Promise<number>((r) => stream.once('response', (h) => r(Number(h[':status']))));
    const closed = resetCode(stream);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));

    // Act
    stream.write(Buffer.alloc(Math.round(1.2 * MB), 0x20));
    const code = await status;
    const rst = await closed;
    session.destroy();

    // Assess
    expect(code).toBe(413);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ code: 'resource_exhausted' });
    expect(rst).toBe(h2.NGHTTP2_NO_ERROR);
  });

  it('still serves a normal call afterwards', async () => {
    const res = await fetch(`${stack.ingressUrl}/org.example.Greeter/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"Pete"}',
    });
    expect(await res.json()).toEqual({ greeting: 'Hello Pete' });
  });

  it.each([
    {
      $case: 'a 1 MB JSON result',
      method: 'Resolve',
      body: { id: 'prom_1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', json_result: 'x'.repeat(1_000_000) },
      what: 'result',
    },
    {
      $case: 'a 300 KB bytes result',
      method: 'Resolve',
      body: { id: 'prom_1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', bytes_result: Buffer.alloc(300_000).toString('base64') },
      what: 'result',
    },
    {
      $case: 'a 300 KB rejection reason',
      method: 'Reject',
      body: { id: 'prom_1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', reason: 'r'.repeat(300_000) },
      what: 'reason',
    },
  ])('answers 413 for $$case at the awakeable API', async ({ method, body, what }) => {
    // Act
    const res = await fetch(`${stack.ingressUrl}/dev.restate.Awakeables/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

    // Assess
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ code: 'resource_exhausted', message: `the awakeable ${what} is larger than the limit of ${MAX_INPUT_BYTES} bytes` });
  });
});

describe('body limits through the API Gateway event path', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  const viaLambda = async (handler: 'ingress' | 'admin', path: string, contentType: string, body: Uint8Array) => {
    const lambda = apiGatewayHandler(stack.runtime[handler]);
    const event = eventFromRequest({ method: 'POST', url: path, headers: { 'content-type': contentType }, body });
    return responseFromResult(await lambda(event, { awsRequestId: 'test', getRemainingTimeInMillis: () => 30_000 }));
  };

  it('answers 413 to a 2 MB Connect body', async () => {
    const res = await viaLambda('ingress', '/org.example.Greeter/Greet', 'application/json', Buffer.alloc(2 * MB, 0x20));

    expect(res.status).toBe(413);
    expect(JSON.parse(Buffer.from(res.body).toString())).toEqual({
      code: 'resource_exhausted',
      message: `the request body is larger than the limit of ${MAX_INGRESS_BODY_BYTES} bytes`,
    });
  });

  it('answers grpc-status 8 to a 2 MB gRPC-web body', async () => {
    const res = await viaLambda('ingress', '/org.example.Greeter/Greet', 'application/grpc-web+proto', frame(Buffer.alloc(2 * MB)));

    expect(res.status).toBe(200);
    expect(res.headers['grpc-status']).toBe('8');
    expect(decodeURIComponent(res.headers['grpc-message']!)).toContain(`limit of ${MAX_INGRESS_BODY_BYTES} bytes`);
  });

  it('answers 413 to a 100 KB admin body', async () => {
    const res = await viaLambda('admin', '/endpoints', 'application/json', Buffer.alloc(100 * 1024, 0x20));

    expect(res.status).toBe(413);
    expect(JSON.parse(Buffer.from(res.body).toString())).toEqual({
      message: `the request body is larger than the limit of ${MAX_ADMIN_BODY_BYTES} bytes`,
      restate_code: null,
    });
  });
});
