/**
 * Hostile input, issue items 2 and 9: a request the client got wrong is a 4xx with a body that
 * says what is wrong, never a 500; only POST invokes a handler. A 5xx is the server's own
 * failure and is logged, with the invocation id when there is one.
 */
import { connect as h2connect } from 'node:http2';
import * as restate from '@restatedev/restate-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.js';
import { inProcessRuntime, json, post } from '../support/runtime.js';
import { startStack, type Stack } from './support.js';

const LONG = 'a'.repeat(3000);
const JSON_CT = { 'content-type': 'application/json' };

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('client mistakes at the ingress and the admin API', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it.each([
    { $case: 'bad percent-encoding in the path', path: '/%E0%A4%A/x', body: '{}', message: /path segment '%E0%A4%A' is not valid percent-encoded UTF-8/ },
    { $case: 'a 3000-character service name', path: `/${LONG}/x`, body: '{}', message: /the service name 'a{40}…' has 3000 bytes; at most 1024 are allowed/ },
    { $case: 'a 3000-character method name', path: `/greeter/${LONG}`, body: '{}', message: /the method name 'a{40}…' has 3000 bytes/ },
    {
      $case: 'a keyed handler without a key',
      path: '/counter/add',
      body: '{"request":{"delta":1}}',
      message: /'counter\/add' is a keyed handler: the request needs a non-empty "key"/,
    },
    { $case: 'a keyed handler with "key": null', path: '/counter/add', body: '{"key":null}', message: /non-empty "key"/ },
    { $case: 'a keyed handler with "key": ""', path: '/counter/get', body: '{"key":""}', message: /'counter\/get' is a keyed handler/ },
    { $case: 'an unkeyed handler with a key', path: '/greeter/greet', body: '{"key":"k","request":{}}', message: /'greeter\/greet' is not keyed/ },
    { $case: 'a router request with senderAssumes', path: '/counter/add', body: '{"key":"k","senderAssumes":2}', message: /"senderAssumes" is reserved/ },
  ])('answers 400 invalid_argument for $$case', async ({ path, body, message }) => {
    // Act
    const res = await call(`${stack.ingressUrl}${path}`, { method: 'POST', headers: JSON_CT, body });

    // Assess
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body).toEqual({ code: 'invalid_argument', message: expect.stringMatching(message) });
    // Refused before an invocation was created.
    expect(res.headers.get('x-restate-id')).toBeNull();
  });

  it('answers 415 with a message for a JSON body in another charset than UTF-8', async () => {
    // Act
    const res = await call(`${stack.ingressUrl}/greeter/greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=latin1' },
      body: '{"request":{"name":"x"}}',
    });

    // Assess
    expect(res.status).toBe(415);
    expect(res.body).toEqual({
      code: 'invalid_argument',
      message: expect.stringContaining("charset 'latin1' is not supported: JSON request bodies must be UTF-8"),
    });
  });

  it('still accepts JSON with charset=utf-8', async () => {
    const res = await call(`${stack.ingressUrl}/greeter/greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: '{"request":{"name":"x"}}',
    });

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ response: 'Hello x' });
  });

  it.each([
    { $case: 'GET on a keyed handler', method: 'GET', path: '/counter/add' },
    { $case: 'GET on an unkeyed handler', method: 'GET', path: '/greeter/greet' },
    { $case: 'GET on a protobuf service', method: 'GET', path: '/org.example.Greeter/Greet' },
    { $case: 'PUT with JSON', method: 'PUT', path: '/org.example.Greeter/Greet' },
    { $case: 'DELETE', method: 'DELETE', path: '/counter/get' },
  ])('answers 405 with Allow: POST for $$case, without running the handler', async ({ method, path }) => {
    // Arrange
    const before = await counterValue(stack, 'get-probe');

    // Act
    const res = await call(`${stack.ingressUrl}${path}?key=get-probe`, {
      method,
      headers: method === 'GET' || method === 'DELETE' ? {} : JSON_CT,
      body: method === 'PUT' ? '{"key":"get-probe"}' : undefined,
    });

    // Assess
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.body).toEqual({
      code: 'unimplemented',
      message: expect.stringMatching(/only POST does \(Connect GET, for idempotent methods, is not supported\)/),
    });
    expect(res.headers.get('x-restate-id')).toBeNull();
    expect(await counterValue(stack, 'get-probe')).toBe(before);
  });

  it.each([
    { $case: 'an unknown route beside output and attach', path: '/restate/invocation/inv_x/bogus', method: 'GET' },
    { $case: 'a route with no id', path: '/restate/invocation/', method: 'GET' },
  ])('answers 404 naming the invocation routes for $$case', async ({ path, method }) => {
    // Act
    const res = await call(`${stack.ingressUrl}${path}`, { method });

    // Assess
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: 'not_found', message: expect.stringMatching(/use GET \/restate\/invocation\/\{id\}\/output or .*\/attach/) });
  });

  it('says the awakeable id is missing when it is', async () => {
    // Act
    const res = await call(`${stack.ingressUrl}/dev.restate.Awakeables/Resolve`, { method: 'POST', headers: JSON_CT, body: '{"json_result":1}' });

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 'invalid_argument', message: expect.stringMatching(/^the awakeable id is missing/) });
  });

  it.each([
    { $case: 'a 3000-character service name', path: `/services/${LONG}`, message: /the service name 'a{40}…' has 3000 bytes/ },
    { $case: 'a 3000-character service name (methods)', path: `/services/${LONG}/methods`, message: /the service name/ },
    { $case: 'a 3000-character endpoint id', path: `/endpoints/${LONG}`, message: /the id 'a{40}…' has 3000 bytes/ },
    { $case: 'a 3000-character invocation id', path: `/invocations/${LONG}`, message: /the id/ },
    { $case: 'bad percent-encoding', path: '/services/%E0%A4%A', message: /Invalid percent-encoding/ },
  ])('answers 400 on the admin API for $$case', async ({ path, message }) => {
    // Act
    const res = await call(`${stack.adminUrl}${path}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: expect.stringMatching(message), restate_code: null });
  });
});

describe('client mistakes the fuzzer found', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it.each([
    {
      $case: 'Ingress/Invoke naming a 3000-character service',
      path: '/dev.restate.Ingress/Invoke',
      body: JSON.stringify({ service: LONG, method: 'greet' }),
      message: /the service name 'a{40}…' has 3000 bytes/,
    },
    {
      $case: 'a health check of a 3000-character service name',
      path: '/grpc.health.v1.Health/Check',
      body: JSON.stringify({ service: LONG }),
      message: /longer than 1024 bytes/,
    },
    {
      $case: 'a health check that is not JSON',
      path: '/grpc.health.v1.Health/Check',
      body: '{"service":',
      message: /not a valid grpc.health.v1.HealthCheckRequest/,
    },
  ])('answers 400 for $$case', async ({ path, body, message }) => {
    // Act
    const res = await call(`${stack.ingressUrl}${path}`, { method: 'POST', headers: JSON_CT, body });

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 'invalid_argument', message: expect.stringMatching(message) });
  });

  it.each([
    {
      $case: 'gRPC-web, a frame flagged compressed without grpc-encoding',
      native: false,
      body: [0x01, 0, 0, 0, 0],
      message: /no grpc-encoding names its compression/,
    },
    {
      $case: 'gRPC-web, bytes that are not a HealthCheckRequest',
      native: false,
      body: [0x00, 0, 0, 0, 2, 0xff, 0xff],
      message: /not a valid grpc.health.v1.HealthCheckRequest/,
    },
    {
      $case: 'native gRPC, a frame flagged compressed without grpc-encoding',
      native: true,
      body: [0x01, 0, 0, 0, 0],
      message: /no grpc-encoding names its compression/,
    },
    { $case: 'native gRPC, unknown frame flags', native: true, body: [0x7f, 0, 0, 0, 0], message: /unknown gRPC frame flags 0x7f/ },
  ])('answers a malformed health check ($$case) with INVALID_ARGUMENT, not INTERNAL', async ({ native, body, message }) => {
    // Act
    const status = native
      ? await nativeHealth(stack.ingressUrl, Buffer.from(body))
      : await fetch(`${stack.ingressUrl}/grpc.health.v1.Health/Check`, {
          method: 'POST',
          headers: { 'content-type': 'application/grpc-web+proto' },
          body: Buffer.from(body),
        }).then((r) => ({
          code: r.headers.get('grpc-status'),
          message: decodeURIComponent(r.headers.get('grpc-message') ?? ''),
        }));

    // Assess
    expect(status.code).toBe('3');
    expect(status.message).toMatch(message);
  });

  it('answers 404 on the admin API for a path that starts with two slashes', async () => {
    const res = await call(`${stack.adminUrl}//%F0%90%A0%BC/x`, { method: 'POST', headers: JSON_CT, body: '0' });

    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: expect.stringContaining('No route'), restate_code: null });
  });
});

describe('server failures (5xx) are logged', () => {
  it('logs a handler failure that ends in a 5xx code with the invocation id', async () => {
    // Arrange: a handler that fails with a terminal error of code INTERNAL.
    const lines: string[] = [];
    const failing = restate.router({ fail: async () => Promise.reject(new restate.TerminalError('broken on purpose', { errorCode: 13 })) });
    const rt = await inProcessRuntime(restate.endpoint().bindRouter('failing', failing), { log: createLogger({ level: 'warn', sink: (l) => lines.push(l) }) });

    // Act
    const res = await post(rt.ingress, '/failing/fail', { request: {} });

    // Assess
    expect(res.status).toBe(500);
    expect(json(res)).toEqual({ code: 'internal', message: 'broken on purpose' });
    const id = res.headers['x-restate-id'];
    expect(id).toMatch(/^inv_/);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ level: 'warn', code: 'internal', 'restate.invocation.id': id }),
    );
  });
});

async function counterValue(stack: Stack, key: string): Promise<unknown> {
  const res = await call(`${stack.ingressUrl}/counter/get`, { method: 'POST', headers: JSON_CT, body: JSON.stringify({ key }) });
  return res.body.response;
}

/** A native gRPC health check over h2c; the status from the headers (trailers-only) or trailers. */
async function nativeHealth(url: string, body: Buffer): Promise<{ code: string | undefined; message: string }> {
  const session = h2connect(url);
  session.on('error', () => undefined);
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => undefined);
    let fields: Record<string, unknown> = {};
    stream.on('response', (h) => (fields = { ...fields, ...h }));
    stream.on('trailers', (t) => (fields = { ...fields, ...t }));
    stream.resume();
    stream.end(body);
    await new Promise((r) => stream.once('close', r));
    return { code: fields['grpc-status'] as string | undefined, message: decodeURIComponent(String(fields['grpc-message'] ?? '')) };
  } finally {
    session.destroy();
  }
}
