/**
 * Hostile input, issue item 6: compressed request bodies. Real Connect-ES clients with
 * `sendCompression` (gzip, br) get answers over Connect, gRPC and gRPC-web; a gzip bomb (200 MB
 * of one letter, ~200 KB compressed) is refused at the 1 MiB limit without being inflated; an
 * unknown encoding gets UNIMPLEMENTED with the accepted encodings listed, as the specs ask.
 * (`buf curl` has no option to compress requests, so it is not used here.)
 */
import { connect as h2connect } from 'node:http2';
import { createGzip, gzipSync } from 'node:zlib';
import { createFileRegistry, fromBinary, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import type { Compression } from '@connectrpc/connect/protocol';
import { compressionBrotli, compressionGzip, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_INGRESS_BODY_BYTES } from '../../lib/http/limits.js';
import { frame, greetRequest } from '../ingress/support.js';
import { startStack, type Stack } from './support.js';

/** 200 MB of one letter, gzipped as a stream (the 200 MB never exist in memory). */
async function gzipBomb(): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((r) => gzip.once('end', r));
  const mb = Buffer.alloc(1024 * 1024, 'a');
  for (let i = 0; i < 200; i++) if (!gzip.write(mb)) await new Promise((r) => gzip.once('drain', r));
  gzip.end();
  await done;
  return Buffer.concat(out);
}

describe('compressed request bodies', () => {
  let stack: Stack;
  let greeter: DescService;
  let bomb: Buffer;

  beforeAll(async () => {
    stack = await startStack();
    const set = await stack.runtime.registry.serviceDescriptors('org.example.Greeter');
    greeter = createFileRegistry(fromBinary(FileDescriptorSetSchema, set)).getService('org.example.Greeter')!;
    bomb = await gzipBomb();
  });
  afterAll(() => stack?.close());

  const greet = (transport: Transport) =>
    (createClient(greeter, transport) as unknown as Record<string, (req: object) => Promise<Record<string, unknown>>>).greet!;
  // compressMinBytes 0: Connect-ES leaves messages under 1 KiB uncompressed by default.
  const gzip = { sendCompression: compressionGzip, compressMinBytes: 0 };
  const br = { sendCompression: compressionBrotli, compressMinBytes: 0 };

  it.each([
    {
      $case: 'Connect binary, gzip, HTTP/1.1',
      make: (url: string) => createConnectTransport({ baseUrl: url, httpVersion: '1.1', useBinaryFormat: true, ...gzip }),
    },
    { $case: 'Connect JSON, gzip, HTTP/2', make: (url: string) => createConnectTransport({ baseUrl: url, httpVersion: '2', useBinaryFormat: false, ...gzip }) },
    { $case: 'Connect JSON, br, HTTP/1.1', make: (url: string) => createConnectTransport({ baseUrl: url, httpVersion: '1.1', useBinaryFormat: false, ...br }) },
    { $case: 'gRPC, gzip', make: (url: string) => createGrpcTransport({ baseUrl: url, ...gzip }) },
    { $case: 'gRPC, br', make: (url: string) => createGrpcTransport({ baseUrl: url, ...br }) },
    { $case: 'gRPC-web, gzip, HTTP/1.1', make: (url: string) => createGrpcWebTransport({ baseUrl: url, httpVersion: '1.1', ...gzip }) },
    { $case: 'gRPC-web, br, HTTP/2', make: (url: string) => createGrpcWebTransport({ baseUrl: url, httpVersion: '2', ...br }) },
  ])('answers a Connect-ES client sending $$case', async ({ make }) => {
    // Act: a long name, so the compressed body is much smaller than the message.
    const res = await greet(make(stack.ingressUrl))({ name: 'Pete'.repeat(2000) });

    // Assess
    expect(res.greeting).toBe(`Hello ${'Pete'.repeat(2000)}`);
  });

  it('answers a gzip bomb over Connect with 413 quickly, without inflating it', async () => {
    // Arrange
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();

    // Act
    const res = await fetch(`${stack.ingressUrl}/org.example.Greeter/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    const tookMs = Date.now() - started;

    // Assess
    expect(bomb.length).toBeLessThan(300 * 1024);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      code: 'resource_exhausted',
      message: `the decompressed request body is larger than the limit of ${MAX_INGRESS_BODY_BYTES} bytes`,
    });
    expect(tookMs).toBeLessThan(2000);
    // Inflating it all would cost 200 MB.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('answers a gzip bomb in a compressed gRPC-web frame with RESOURCE_EXHAUSTED', async () => {
    // Act
    const res = await fetch(`${stack.ingressUrl}/org.example.Greeter/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'grpc-encoding': 'gzip' },
      body: frame(bomb, 0x01),
    });

    // Assess
    expect(res.headers.get('grpc-status')).toBe('8');
    expect(decodeURIComponent(res.headers.get('grpc-message')!)).toBe(
      `the decompressed request message is larger than the limit of ${MAX_INGRESS_BODY_BYTES} bytes`,
    );
  });

  it('answers a gzip bomb in a compressed native gRPC frame with RESOURCE_EXHAUSTED', async () => {
    // Act
    const { headers, trailers } = await h2Call(stack.ingressUrl, { 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, frame(bomb, 0x01));

    // Assess
    expect(trailers['grpc-status'] ?? headers['grpc-status']).toBe('8');
    expect(decodeURIComponent(String(trailers['grpc-message'] ?? headers['grpc-message']))).toContain('decompressed request message is larger than the limit');
  });

  it('answers an unknown Connect content-encoding with 501 unimplemented and Accept-Encoding', async () => {
    // Act
    const res = await fetch(`${stack.ingressUrl}/org.example.Greeter/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' },
      body: '{"name":"x"}',
    });

    // Assess
    expect(res.status).toBe(501);
    expect(res.headers.get('accept-encoding')).toBe('gzip,br');
    expect(await res.json()).toEqual({ code: 'unimplemented', message: "unknown compression 'zstd': supported encodings are gzip, br" });
  });

  it('answers an unknown grpc-encoding with UNIMPLEMENTED and grpc-accept-encoding, over native gRPC', async () => {
    // Act
    const { headers, trailers } = await h2Call(
      stack.ingressUrl,
      { 'content-type': 'application/grpc', 'grpc-encoding': 'snappy' },
      frame(greetRequest('x'), 0x01),
    );

    // Assess
    expect(trailers['grpc-status']).toBe(String(Code.Unimplemented));
    expect(headers['grpc-accept-encoding']).toBe('gzip,br');
  });

  it('reports the unknown encoding to a Connect-ES client as unimplemented', async () => {
    // Arrange: a client that claims an encoding the server does not know.
    const fake: Compression = { name: 'lz4', compress: async (b) => new Uint8Array(b), decompress: async (b) => new Uint8Array(b) };
    const transport = createConnectTransport({ baseUrl: stack.ingressUrl, httpVersion: '1.1', sendCompression: fake, compressMinBytes: 0 });

    // Act
    const err = await greet(transport)({ name: 'x' }).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unimplemented);
    expect((err as ConnectError).rawMessage).toContain('supported encodings are gzip, br');
  });

  it('answers 400 to a body that claims gzip but is not', async () => {
    const res = await fetch(`${stack.ingressUrl}/org.example.Greeter/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync('{"name":"x"}').subarray(0, 12),
    });

    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'invalid_argument', message: expect.stringContaining('gzip data cannot be decompressed') });
  });
});

async function h2Call(
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<{ headers: Record<string, unknown>; trailers: Record<string, unknown> }> {
  const session = h2connect(url);
  session.on('error', () => undefined);
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/org.example.Greeter/Greet', te: 'trailers', ...headers });
    stream.on('error', () => undefined);
    const out = { headers: {} as Record<string, unknown>, trailers: {} as Record<string, unknown> };
    stream.on('response', (h) => (out.headers = h));
    stream.on('trailers', (t) => (out.trailers = t));
    stream.resume();
    stream.end(body);
    await new Promise((r) => stream.once('close', r));
    return out;
  } finally {
    session.destroy();
  }
}
