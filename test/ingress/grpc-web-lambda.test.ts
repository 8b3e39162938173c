/**
 * gRPC-web, health and the reflection refusal through the ingress Lambda handler with API Gateway
 * events built by hand: no server, the exact AWS code path.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../lib/errors.js';
import { createTestIngress, frame, greetRequest, webFrames, type Ingress } from './support.js';

const GRPC_WEB = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
const GREET = '/org.example.Greeter/Greet';

function trailersOf(payload: Buffer): Record<string, string> {
  return Object.fromEntries(
    payload
      .toString('utf8')
      .split('\r\n')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
  );
}

describe('gRPC-web through API Gateway → the ingress Lambda', () => {
  let ingress: Ingress;
  beforeAll(async () => {
    ingress = await createTestIngress();
  });
  afterAll(() => ingress.close());

  it('answers a call with a data frame, then a trailer frame with grpc-status 0', async () => {
    const res = await ingress.viaLambda({ path: GREET, headers: GRPC_WEB, body: frame(greetRequest('Pete')) });

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/grpc-web+proto');
    expect(res.headers['x-restate-id']).toMatch(/^inv_/);
    const [data, trailer] = webFrames(res.body);
    expect(data).toEqual({ flags: 0, payload: Buffer.from([0x0a, 10, ...Buffer.from('Hello Pete')]) });
    expect(trailer?.flags).toBe(0x80);
    expect(trailersOf(trailer!.payload)).toEqual({ 'grpc-status': '0' });
  });

  it('speaks grpc-web-text: base64 in, base64 out', async () => {
    const body = frame(greetRequest('Ada')).toString('base64');
    const res = await ingress.viaLambda({ path: GREET, headers: { 'content-type': 'application/grpc-web-text' }, body });

    expect(res.headers['content-type']).toBe('application/grpc-web-text+proto');
    const frames = webFrames(Buffer.from(Buffer.from(res.body).toString('latin1'), 'base64'));
    expect(frames[0]!.payload.toString()).toContain('Hello Ada');
    expect(trailersOf(frames[1]!.payload)['grpc-status']).toBe('0');
  });

  it('accepts grpc-web-text sent as several padded base64 chunks', async () => {
    const bytes = frame(greetRequest('Bo'));
    const body = bytes.subarray(0, 5).toString('base64') + bytes.subarray(5).toString('base64');
    expect(body).toMatch(/=.+/);
    const res = await ingress.viaLambda({ path: GREET, headers: { 'content-type': 'application/grpc-web-text+proto' }, body });
    expect(Buffer.from(Buffer.from(res.body).toString('latin1'), 'base64').toString()).toContain('Hello Bo');
  });

  it('calls a router service with JSON messages (application/grpc-web+json)', async () => {
    const res = await ingress.viaLambda({
      path: '/greeter/greet',
      headers: { 'content-type': 'application/grpc-web+json' },
      body: frame(Buffer.from('{"request":{"name":"Jo"}}')),
    });
    expect(JSON.parse(webFrames(res.body)[0]!.payload.toString())).toEqual({ response: 'Hello Jo' });
  });

  it.each([
    {
      $case: 'private service',
      path: '/secret/greet',
      body: frame(Buffer.alloc(0)),
      status: Code.PermissionDenied,
      message: 'Service secret is not accessible',
    },
    { $case: 'unknown service', path: '/nope/greet', body: frame(Buffer.alloc(0)), status: Code.NotFound, message: "Service 'nope' not found" },
    {
      $case: 'unknown method',
      path: '/org.example.Greeter/Nope',
      body: frame(Buffer.alloc(0)),
      status: Code.NotFound,
      message: "Service method 'org.example.Greeter/Nope' not found",
    },
    {
      $case: 'bad path',
      path: '/org.example.Greeter',
      body: frame(Buffer.alloc(0)),
      status: Code.InvalidArgument,
      message: 'the path must be /{service}/{method}',
    },
    {
      $case: 'bad protobuf',
      path: GREET,
      body: frame(Buffer.from([0xff, 0xff, 0xff])),
      status: Code.InvalidArgument,
      message: 'not a valid org.example.GreetRequest',
    },
    { $case: 'no message', path: GREET, body: Buffer.alloc(0), status: Code.InvalidArgument, message: 'the request has no message' },
    {
      $case: 'truncated header',
      path: GREET,
      body: Buffer.from([0, 0, 0]),
      status: Code.InvalidArgument,
      message: 'truncated gRPC frame: 3 of the 5 header bytes',
    },
    {
      $case: 'truncated payload',
      path: GREET,
      body: frame(greetRequest('Pete'), 0, 50),
      status: Code.InvalidArgument,
      message: 'the header announces 50 bytes, 6 arrived',
    },
    {
      $case: 'two messages',
      path: GREET,
      body: Buffer.concat([frame(greetRequest('a')), frame(greetRequest('b'))]),
      status: Code.InvalidArgument,
      message: 'exactly one message',
    },
    { $case: 'trailer flag in a request', path: GREET, body: frame(greetRequest('a'), 0x80), status: Code.InvalidArgument, message: 'trailer frame' },
    {
      $case: 'oversized message (5 MiB announced)',
      path: GREET,
      body: frame(Buffer.alloc(16), 0, 5 * 1024 * 1024),
      status: Code.ResourceExhausted,
      message: 'is larger than the limit of 1048576 bytes',
    },
  ])('answers $$case with trailers-only grpc-status $status', async ({ path, body, status, message }) => {
    const res = await ingress.viaLambda({ path, headers: GRPC_WEB, body });

    expect(res.status).toBe(200);
    expect(res.headers['grpc-status']).toBe(String(status));
    expect(decodeURIComponent(res.headers['grpc-message']!)).toContain(message);
    expect(res.body.length).toBe(0);
  });

  it('answers a compressed frame without grpc-encoding with INVALID_ARGUMENT', async () => {
    const res = await ingress.viaLambda({ path: GREET, headers: GRPC_WEB, body: frame(greetRequest('Pete'), 0x01) });

    expect(res.headers['grpc-status']).toBe(String(Code.InvalidArgument));
    expect(decodeURIComponent(res.headers['grpc-message']!)).toContain('no grpc-encoding names its compression');
  });

  it('calls with a gzip-compressed frame (grpc-encoding gzip)', async () => {
    const res = await ingress.viaLambda({ path: GREET, headers: { ...GRPC_WEB, 'grpc-encoding': 'gzip' }, body: frame(gzipSync(greetRequest('Pete')), 0x01) });

    expect(res.headers['grpc-status'] ?? '0').toBe('0');
    expect(webFrames(res.body)).toHaveLength(2);
  });

  it('refuses an unknown grpc-encoding with UNIMPLEMENTED and grpc-accept-encoding gzip,br', async () => {
    const res = await ingress.viaLambda({ path: GREET, headers: { ...GRPC_WEB, 'grpc-encoding': 'snappy' }, body: frame(greetRequest('Pete'), 0x01) });

    expect(res.headers['grpc-status']).toBe(String(Code.Unimplemented));
    expect(decodeURIComponent(res.headers['grpc-message']!)).toContain("unknown compression 'snappy'");
    expect(res.headers['grpc-accept-encoding']).toBe('gzip,br');
  });

  it('percent-encodes grpc-message', async () => {
    const res = await ingress.viaLambda({ path: '/n%C3%A4%25/x', headers: GRPC_WEB, body: frame(Buffer.alloc(0)) });
    expect(res.headers['grpc-message']).toBe("Service 'n%C3%A4%25' not found. Check whether the deployment containing the service is registered.");
  });

  it('answers INVALID_ARGUMENT for grpc-web-text that is not base64', async () => {
    const res = await ingress.viaLambda({ path: GREET, headers: { 'content-type': 'application/grpc-web-text' }, body: '!!!not base64' });
    expect(res.headers['grpc-status']).toBe(String(Code.InvalidArgument));
  });

  it.each([
    { $case: 'an unknown grpc-web codec', method: 'POST', contentType: 'application/grpc-web+thrift', status: 415 },
    { $case: 'native gRPC (API Gateway cannot carry trailers)', method: 'POST', contentType: 'application/grpc', status: 415 },
    { $case: 'a text body', method: 'POST', contentType: 'text/plain', status: 415 },
    { $case: 'GET', method: 'GET', contentType: 'application/grpc-web+proto', status: 405 },
  ])('answers HTTP $status for $$case', async ({ method, contentType, status }) => {
    const res = await ingress.viaLambda({
      method,
      path: GREET,
      headers: { 'content-type': contentType },
      body: method === 'GET' ? undefined : frame(greetRequest('x')),
    });
    expect(res.status).toBe(status);
  });

  it('passes idempotency-key through: a repeated call gets the same invocation', async () => {
    const headers = { ...GRPC_WEB, 'idempotency-key': 'grpc-web-once', 'idempotency-retention-period': '60' };
    const a = await ingress.viaLambda({
      path: '/counter/add',
      headers: { ...headers, 'content-type': 'application/grpc-web+json' },
      body: frame(Buffer.from('{"key":"idem"}')),
    });
    const b = await ingress.viaLambda({
      path: '/counter/add',
      headers: { ...headers, 'content-type': 'application/grpc-web+json' },
      body: frame(Buffer.from('{"key":"idem"}')),
    });

    expect(a.headers['x-restate-id']).toBe(b.headers['x-restate-id']);
    expect(webFrames(b.body)[0]!.payload.toString()).toBe('{"response":1}');
    expect(a.headers['idempotency-expires']).toBeDefined();
  });

  it('answers a browser preflight for gRPC-web with the gRPC-web headers allowed', async () => {
    const res = await ingress.viaLambda({
      method: 'OPTIONS',
      path: GREET,
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-grpc-web,x-user-agent,grpc-timeout',
      },
    });

    expect(res.status).toBe(204);
    const allowed = res.headers['access-control-allow-headers']!.split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'x-grpc-web', 'x-user-agent', 'grpc-timeout']));
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('exposes grpc-status and grpc-message to browser callers', async () => {
    const res = await ingress.viaLambda({ path: '/secret/greet', headers: { ...GRPC_WEB, origin: 'https://app.example' }, body: frame(Buffer.alloc(0)) });
    expect(res.headers['access-control-expose-headers']).toContain('grpc-status');
    expect(res.headers['access-control-expose-headers']).toContain('grpc-message');
  });

  it('never crashes and never leaves gRPC-web on random bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(GREET, '/greeter/greet', '/secret/greet'), async (body, path) => {
        const res = await ingress.viaLambda({ path, headers: GRPC_WEB, body });
        expect(res.status).toBe(200);
        const status = Number(res.headers['grpc-status'] ?? trailersOf(webFrames(res.body).at(-1)!.payload)['grpc-status']);
        expect(status).toBeGreaterThanOrEqual(0);
        expect(status).toBeLessThanOrEqual(16);
        expect(status).not.toBe(Code.Internal);
      }),
      { numRuns: 60 },
    );
  });
});

describe('health and reflection through the ingress Lambda', () => {
  let ingress: Ingress;
  beforeAll(async () => {
    ingress = await createTestIngress();
  });
  afterAll(() => ingress.close());

  it.each([
    { $case: 'the server (empty name)', service: '', status: 'SERVING' },
    { $case: 'a public service', service: 'org.example.Greeter', status: 'SERVING' },
    { $case: 'a private service', service: 'secret', status: 'NOT_SERVING' },
    { $case: 'a built-in', service: 'dev.restate.Ingress', status: 'SERVING' },
  ])('Check over Connect JSON reports $$case as $status', async ({ service, status }) => {
    const res = await ingress.viaLambda({
      path: '/grpc.health.v1.Health/Check',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service }),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(Buffer.from(res.body).toString())).toEqual({ status });
  });

  it('Check over Connect answers 404 not_found for an unknown service', async () => {
    const res = await ingress.viaLambda({ path: '/grpc.health.v1.Health/Check', headers: { 'content-type': 'application/json' }, body: '{"service":"nope"}' });
    expect(res.status).toBe(404);
    expect(JSON.parse(Buffer.from(res.body).toString()).code).toBe('not_found');
  });

  it('Check over gRPC-web answers SERVING (HealthCheckResponse{status: 1})', async () => {
    const res = await ingress.viaLambda({ path: '/grpc.health.v1.Health/Check', headers: GRPC_WEB, body: frame(Buffer.alloc(0)) });
    const [data, trailer] = webFrames(res.body);
    expect(data!.payload).toEqual(Buffer.from([0x08, 0x01]));
    expect(trailersOf(trailer!.payload)['grpc-status']).toBe('0');
  });

  it('refuses reflection over Connect (streaming) with 415', async () => {
    const res = await ingress.viaLambda({
      path: '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      headers: { 'content-type': 'application/connect+proto' },
      body: frame(Buffer.alloc(0)),
    });
    expect(res.status).toBe(415);
  });

  it('refuses reflection over gRPC-web with UNIMPLEMENTED and says why', async () => {
    const res = await ingress.viaLambda({
      path: '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
      headers: GRPC_WEB,
      body: frame(Buffer.alloc(0)),
    });
    expect(res.headers['grpc-status']).toBe(String(Code.Unimplemented));
    expect(decodeURIComponent(res.headers['grpc-message']!)).toContain('needs native gRPC over HTTP/2');
  });
});
