/**
 * The local ingress server (HTTP/1.1 and h2c on one port) with the in-process ingress Lambda
 * behind the API Gateway emulation: `buf curl` over every protocol with and without reflection,
 * Connect-ES clients over every protocol, health, and native gRPC framing errors.
 */
import { readFile } from 'node:fs/promises';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { create, createFileRegistry, fromBinary, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, file_google_protobuf_empty } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type CallOptions, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Health, HealthCheckResponse_ServingStatus } from '../../gen/grpc/health/v1/health_pb.js';
import { bufCurl, buildSchema, createTestIngress, frame, greetRequest, type Ingress } from '../ingress/support.js';

let ingress: Ingress;
let url: string;
let schema: string;
let greeter: DescService;

/** A stand-in descriptor for the private router `secret`: the call is refused before decoding. */
const secret: DescService = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: 'secret.proto',
    syntax: 'proto3',
    dependency: ['google/protobuf/empty.proto'],
    service: [{ name: 'secret', method: [{ name: 'greet', inputType: '.google.protobuf.Empty', outputType: '.google.protobuf.Empty' }] }],
  }),
  () => file_google_protobuf_empty,
).getService('secret')!;

/** A method of a service known only at run time (no generated types). */
type Unary = (req: Record<string, unknown>, opts?: CallOptions) => Promise<Record<string, unknown>>;
function unary(service: DescService, method: string, transport: Transport): Unary {
  const fn = createClient(service, transport)[method];
  if (!fn) throw new Error(`no method ${method}`);
  return fn as unknown as Unary;
}

beforeAll(async () => {
  ingress = await createTestIngress();
  url = await ingress.serve();
  schema = await buildSchema();
  greeter = createFileRegistry(fromBinary(FileDescriptorSetSchema, await readFile(schema))).getService('org.example.Greeter')!;
});
afterAll(() => ingress.close());

describe('buf curl against the local ingress server', () => {
  it.each([
    { $case: 'Connect over HTTP/1.1 (API Gateway emulation), schema from a file', args: ['--protocol', 'connect'], schema: true },
    { $case: 'gRPC-web over HTTP/1.1 (API Gateway emulation), schema from a file', args: ['--protocol', 'grpcweb'], schema: true },
    { $case: 'native gRPC over h2c, schema from a file', args: ['--protocol', 'grpc', '--http2-prior-knowledge'], schema: true },
    { $case: 'native gRPC over h2c, schema by reflection', args: ['--protocol', 'grpc', '--http2-prior-knowledge'], schema: false },
    { $case: 'Connect over h2c, schema by reflection', args: ['--protocol', 'connect', '--http2-prior-knowledge'], schema: false },
    { $case: 'gRPC-web over h2c, schema by reflection', args: ['--protocol', 'grpcweb', '--http2-prior-knowledge'], schema: false },
    { $case: 'native gRPC, reflection v1alpha', args: ['--protocol', 'grpc', '--reflect-protocol', 'grpc-v1alpha'], schema: false },
  ])('calls org.example.Greeter/Greet with $$case', async ({ args, schema: withSchema }) => {
    const res = await bufCurl([...args, ...(withSchema ? ['--schema', schema] : []), '-d', '{"name":"Pete"}', `${url}/org.example.Greeter/Greet`]);

    expect(res.stderr).toBe('');
    expect(JSON.parse(res.stdout)).toEqual({ greeting: 'Hello Pete' });
  });

  it('lists the public and built-in services, not the private one (--list-services)', async () => {
    const res = await bufCurl(['--list-services', url]);

    expect(res.stdout.trim().split('\n')).toEqual([
      'counter',
      'dev.restate.Awakeables',
      'dev.restate.Ingress',
      'greeter',
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'org.example.Dotted',
      'org.example.Greeter',
      'sleeper',
    ]);
  });

  it('lists every method, the dotted router included (--list-methods)', async () => {
    const res = await bufCurl(['--list-methods', url]);

    const methods = res.stdout.trim().split('\n');
    expect(methods).toEqual(
      expect.arrayContaining([
        'org.example.Dotted/greet',
        'org.example.Greeter/Greet',
        'counter/add',
        'counter/get',
        'dev.restate.Ingress/Invoke',
        'grpc.health.v1.Health/Check',
      ]),
    );
    expect(methods.filter((m) => m.startsWith('secret'))).toEqual([]);
  });

  it('calls a dotted router service through its synthetic descriptor', async () => {
    const res = await bufCurl(['--protocol', 'grpc', '-d', '{"request":{"name":"Dot"}}', `${url}/org.example.Dotted/greet`]);
    expect(JSON.parse(res.stdout)).toEqual({ response: 'Hello Dot' });
  });

  it('keeps keyed state across native gRPC calls', async () => {
    await bufCurl(['--protocol', 'grpc', '-d', '{"key":"buf","request":{"delta":2}}', `${url}/counter/add`]);
    const res = await bufCurl(['--protocol', 'grpc', '-d', '{"key":"buf"}', `${url}/counter/get`]);
    expect(JSON.parse(res.stdout)).toEqual({ response: 2 });
  });

  it('cannot describe a private service: reflection answers NOT_FOUND for its name', async () => {
    const res = await bufCurl(['--protocol', 'grpc', '-d', '{}', `${url}/secret/greet`]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('secret');
  });

  it.each([
    { $case: 'a public service', service: 'greeter', out: { status: 'SERVING' } },
    { $case: 'a private service', service: 'secret', out: { status: 'NOT_SERVING' } },
  ])('checks health of $$case over native gRPC', async ({ service, out }) => {
    const res = await bufCurl(['--protocol', 'grpc', '-d', JSON.stringify({ service }), `${url}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(res.stdout)).toEqual(out);
  });

  it.each([
    { $case: 'gRPC-web over HTTP/1.1 (trailers-only in the headers)', args: ['--protocol', 'grpcweb'] },
    { $case: 'native gRPC (status in trailers)', args: ['--protocol', 'grpc', '--http2-prior-knowledge'] },
  ])('reports a failed call with its code over $$case', async ({ args }) => {
    const res = await bufCurl([...args, '--schema', schema, '-d', '{"service":"nope","method":"x"}', `${url}/dev.restate.Ingress/Invoke`]);

    expect(res.code).toBe(5 << 3);
    expect(res.stderr).toContain("Service 'nope' not found");
  });

  it('exits with NOT_FOUND (5 << 3) for the health of an unknown service', async () => {
    const res = await bufCurl(['--protocol', 'grpc', '-d', '{"service":"nope"}', `${url}/grpc.health.v1.Health/Check`]);
    expect(res.code).toBe(5 << 3);
    expect(res.stderr).toContain('not_found');
  });
});

describe('Connect-ES clients against the local ingress server', () => {
  const transports: { $case: string; make: () => Transport }[] = [
    { $case: 'Connect, HTTP/1.1', make: () => createConnectTransport({ baseUrl: url, httpVersion: '1.1' }) },
    { $case: 'Connect JSON, HTTP/2', make: () => createConnectTransport({ baseUrl: url, httpVersion: '2', useBinaryFormat: false }) },
    { $case: 'gRPC, HTTP/2', make: () => createGrpcTransport({ baseUrl: url }) },
    { $case: 'gRPC JSON, HTTP/2', make: () => createGrpcTransport({ baseUrl: url, useBinaryFormat: false }) },
    { $case: 'gRPC-web, HTTP/1.1', make: () => createGrpcWebTransport({ baseUrl: url, httpVersion: '1.1' }) },
    { $case: 'gRPC-web, HTTP/2', make: () => createGrpcWebTransport({ baseUrl: url, httpVersion: '2' }) },
  ];

  it.each(transports)('calls org.example.Greeter/Greet over $$case', async ({ make }) => {
    const headers = new Headers();

    const res = await unary(greeter, 'greet', make())({ name: 'Ada' }, { onHeader: (h) => h.forEach((v, k) => headers.set(k, v)) });

    expect(res).toMatchObject({ greeting: 'Hello Ada' });
    expect(headers.get('x-restate-id')).toMatch(/^inv_/);
  });

  it.each(transports)('is refused permission_denied for the private service over $$case', async ({ make }) => {
    const err = await unary(secret, 'greet', make())({}).catch((e: unknown) => ConnectError.from(e));

    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect((err as ConnectError).rawMessage).toBe('Service secret is not accessible');
  });

  it.each(transports)('checks health over $$case', async ({ make }) => {
    const health = createClient(Health, make());

    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await health.check({ service: 'secret' })).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    const err = await health.check({ service: 'nope' }).catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.NotFound);
  });

  it('answers Health/Watch with UNIMPLEMENTED', async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    const err = await (async () => {
      for await (const _ of health.watch({})) return undefined;
    })().catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unimplemented);
  });

  it('passes idempotency-key metadata through native gRPC', async () => {
    const greet = unary(greeter, 'greet', createGrpcTransport({ baseUrl: url }));
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      await greet({ name: 'Idem' }, { headers: { 'idempotency-key': 'grpc-native-1' }, onHeader: (h) => ids.push(h.get('x-restate-id')!) });
    }
    expect(ids[0]).toMatch(/^inv_/);
    expect(ids[1]).toBe(ids[0]);
  });
});

/** One raw HTTP/2 request; the session is reused across calls. */
async function h2(session: ClientHttp2Session, path: string, headers: Record<string, string>, body: Uint8Array) {
  return new Promise<{ headers: Record<string, unknown>; trailers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, te: 'trailers', ...headers });
    let resHeaders: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (resHeaders = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ headers: resHeaders, trailers, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.end(body);
  });
}

describe('native gRPC framing errors on the local server', () => {
  let session: ClientHttp2Session;
  beforeAll(() => {
    session = h2connect(url);
  });
  afterAll(() => session.close());

  const GRPC = { 'content-type': 'application/grpc' };

  it('answers a call with the message frame and grpc-status 0 in real trailers', async () => {
    const res = await h2(session, '/org.example.Greeter/Greet', GRPC, frame(greetRequest('Pete')));

    expect(res.headers[':status']).toBe(200);
    expect(res.headers['content-type']).toBe('application/grpc+proto');
    expect(res.body).toEqual(frame(Buffer.from([0x0a, 10, ...Buffer.from('Hello Pete')])));
    expect(res.trailers['grpc-status']).toBe('0');
  });

  it.each([
    { $case: 'a truncated header', body: Buffer.from([0, 0]), status: Code.InvalidArgument, message: 'truncated gRPC frame' },
    { $case: 'a truncated payload', body: frame(greetRequest('Pete'), 0, 40), status: Code.InvalidArgument, message: 'announces 40 bytes' },
    { $case: 'a compressed frame without grpc-encoding', body: frame(greetRequest('Pete'), 1), status: Code.InvalidArgument, message: 'no grpc-encoding' },
    { $case: 'bad protobuf', body: frame(Buffer.from([0xff, 0xff])), status: Code.InvalidArgument, message: 'not a valid org.example.GreetRequest' },
    { $case: 'an empty body', body: Buffer.alloc(0), status: Code.InvalidArgument, message: 'no message' },
  ])('answers $$case with grpc-status $status', async ({ body, status, message }) => {
    const res = await h2(session, '/org.example.Greeter/Greet', GRPC, body);

    expect(res.headers[':status']).toBe(200);
    expect(res.trailers['grpc-status']).toBe(String(status));
    expect(decodeURIComponent(String(res.trailers['grpc-message']))).toContain(message);
  });

  it.each([
    { $case: 'unknown service', path: '/nope/x', status: Code.NotFound },
    { $case: 'unknown method', path: '/org.example.Greeter/Nope', status: Code.NotFound },
    { $case: 'private service', path: '/secret/greet', status: Code.PermissionDenied },
  ])('answers $$case with grpc-status $status', async ({ path, status }) => {
    const res = await h2(session, path, GRPC, frame(Buffer.alloc(0)));
    expect(res.trailers['grpc-status']).toBe(String(status));
  });

  it('sends other HTTP/2 content types to the Lambda handler (415 for an unknown one)', async () => {
    const res = await h2(session, '/org.example.Greeter/Greet', { 'content-type': 'application/grpc-thrift' }, frame(greetRequest('x')));
    expect(res.headers[':status']).toBe(415);
  });

  it('answers an oversized message with RESOURCE_EXHAUSTED before reading it all, and keeps serving', async () => {
    const small = await createTestIngress();
    const smallUrl = await small.serve({ maxMessageBytes: 1024 });
    const s = h2connect(smallUrl);
    try {
      const big = await h2(s, '/org.example.Greeter/Greet', GRPC, frame(Buffer.alloc(256 * 1024, 1)));
      // Trailers-only (the status in the one HEADERS frame), then the rest of the body is not read.
      expect(big.headers['grpc-status']).toBe(String(Code.ResourceExhausted));
      expect(decodeURIComponent(String(big.headers['grpc-message']))).toContain('limit of 1024 bytes');

      const ok = await h2(s, '/org.example.Greeter/Greet', GRPC, frame(greetRequest('after')));
      expect(ok.trailers['grpc-status']).toBe('0');
    } finally {
      s.close();
      await small.close();
    }
  });

  it('serves 20 concurrent native gRPC calls on one connection', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => h2(session, '/org.example.Greeter/Greet', GRPC, frame(greetRequest(`n${i}`)))));
    expect(results.map((r) => r.trailers['grpc-status'])).toEqual(Array(20).fill('0'));
  });
});
