import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { fromJson, toBinary } from '@bufbuild/protobuf';
import { H2cSessionPool, H2cTransport } from '../../lib/endpoint/h2c.js';
import { LambdaTransport } from '../../lib/endpoint/lambda.js';
import { TransportError } from '../../lib/endpoint/errors.js';
import { createTransport } from '../../lib/endpoint/transport.js';
import { decodeDiscoveryResponse } from '../../lib/registry/discovery.js';
import { DescriptorSchema } from '../../lib/registry/schema.js';
import { frameTypes, invocationBody, lambdaEndpoint, routerEndpoint, sdkDiscovery, startH2cEndpoint, TEST_ARN, type H2cEndpoint } from './support.js';

const RESTATE = { 'content-type': 'application/restate', accept: 'application/restate' };
const DISCOVER = { 'content-type': 'application/proto', accept: 'application/proto' };

/** RpcRequest{request: {name: "Ada"}} as the ingress would build it. */
async function greetInput(): Promise<Uint8Array> {
  const schema = DescriptorSchema.decode(decodeDiscoveryResponse((await sdkDiscovery(routerEndpoint())).body).files);
  const input = schema.service('greeter').resolved.get('greet')!.input;
  return toBinary(input, fromJson(input, { request: { name: 'Ada' } }));
}

describe('H2cTransport', () => {
  let server: H2cEndpoint;
  const pool = new H2cSessionPool();

  beforeAll(async () => {
    server = await startH2cEndpoint(routerEndpoint(), '/prefix');
  });
  afterAll(async () => {
    await pool.close();
    await server.close();
  });

  it('posts discovery under the registered path prefix and buffers the answer', async () => {
    const transport = new H2cTransport(server.uri, { pool });

    const res = await transport.call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() });

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/proto');
    expect(decodeDiscoveryResponse(res.body)).toMatchObject({ services: ['greeter', 'counter'], protocolMode: 'BidiStream' });
    expect(server.paths.at(-1)).toBe('/prefix/discover');
  });

  it('runs an invocation in request/response mode against the real SDK', async () => {
    const transport = new H2cTransport(`${server.uri}/`, { pool });

    const res = await transport.call({ path: '/invoke/greeter/greet', headers: RESTATE, body: invocationBody(await greetInput()) });

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/restate');
    expect(frameTypes(res.body)).toEqual([0x0401, 0x0005]); // Output, End
    expect(Buffer.from(res.body).toString('latin1')).toContain('Hello Ada');
    expect(server.paths.at(-1)).toBe('/prefix/invoke/greeter/greet');
  });

  it('sends additional headers, letting protocol headers win on a clash', async () => {
    const transport = new H2cTransport(server.uri, { pool, additionalHeaders: { Authorization: 'Bearer t', 'content-type': 'text/plain' } });

    await transport.call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() });

    expect(server.headers.at(-1)).toMatchObject({ authorization: 'Bearer t', 'content-type': 'application/proto' });
  });

  it('reuses one session per origin', async () => {
    const before = server.sessionCount();
    const transport = new H2cTransport(server.uri, { pool });

    await Promise.all([1, 2, 3].map(() => transport.call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() })));
    await new H2cTransport(server.uri, { pool }).call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() });

    expect(server.sessionCount() - before).toBeLessThanOrEqual(1);
  });

  it('throws a retryable TransportError when nothing listens', async () => {
    const port = await freePort();
    const transport = new H2cTransport(`http://127.0.0.1:${port}`, { pool });

    const err = await transport.call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('gives up when the signal aborts', async () => {
    const silent = http2.createServer(() => undefined); // accepts the stream, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const transport = new H2cTransport(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, { pool });
    const controller = new AbortController();

    const started = Date.now();
    const pending = transport.call({ path: '/discover', headers: DISCOVER, body: new Uint8Array(), signal: controller.signal });
    setTimeout(() => controller.abort(new Error('deadline')), 50);
    const err = await pending.catch((e: unknown) => e);

    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/aborted/);
    expect(Date.now() - started).toBeLessThan(2000);
    await pool.close();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
});

describe('LambdaTransport', () => {
  it('invokes with an API Gateway v1 payload and parses the proxy result', async () => {
    const { client, payloads, mock } = lambdaEndpoint(routerEndpoint());
    const transport = new LambdaTransport(client, TEST_ARN, { additionalHeaders: { 'x-api-key': 'k' } });

    const res = await transport.call({ path: '/invoke/greeter/greet', headers: RESTATE, body: invocationBody(await greetInput()) });

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/restate');
    expect(frameTypes(res.body)).toEqual([0x0401, 0x0005]);
    expect(payloads[0]).toEqual({
      path: '/invoke/greeter/greet',
      httpMethod: 'POST',
      headers: { 'x-api-key': 'k', 'content-type': 'application/restate', accept: 'application/restate' },
      body: Buffer.from(invocationBody(await greetInput())).toString('base64'),
      isBase64Encoded: true,
    });
    expect(mock.commandCalls(InvokeCommand)[0]!.args[0].input).toMatchObject({ FunctionName: TEST_ARN, InvocationType: 'RequestResponse' });
  });

  it('answers discovery with REQUEST_RESPONSE mode', async () => {
    const { client } = lambdaEndpoint(routerEndpoint());

    const res = await new LambdaTransport(client, TEST_ARN).call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() });

    expect(res.headers['content-type']).toBe('application/proto');
    expect(decodeDiscoveryResponse(res.body).protocolMode).toBe('RequestResponse');
  });

  it('turns a FunctionError into a retryable error carrying the function message', async () => {
    const client = new LambdaClient({ region: 'us-east-1' });
    mockClient(client)
      .on(InvokeCommand)
      .resolves({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: Buffer.from(JSON.stringify({ errorType: 'Error', errorMessage: 'boom in handler' })) as never,
      });

    const err = await new LambdaTransport(client, TEST_ARN).call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).retryable).toBe(true);
    expect((err as Error).message).toContain('Error: boom in handler');
  });

  it('marks a missing function as not retryable', async () => {
    const client = new LambdaClient({ region: 'us-east-1' });
    const missing = Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
    mockClient(client).on(InvokeCommand).rejects(missing);

    const err = await new LambdaTransport(client, TEST_ARN).call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).retryable).toBe(false);
    expect((err as Error).message).toContain('ResourceNotFoundException');
  });

  it('rejects a payload that is not a proxy result', async () => {
    const client = new LambdaClient({ region: 'us-east-1' });
    mockClient(client)
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, Payload: Buffer.from('"just a string"') as never });

    await expect(new LambdaTransport(client, TEST_ARN).call({ path: '/discover', headers: DISCOVER, body: new Uint8Array() })).rejects.toThrow(/statusCode/);
  });
});

describe('createTransport', () => {
  it.each([
    { case: 'http uri', address: { kind: 'http' as const, uri: 'http://localhost:9080', additionalHeaders: {} }, type: H2cTransport },
    { case: 'lambda arn', address: { kind: 'lambda' as const, arn: TEST_ARN, additionalHeaders: {} }, type: LambdaTransport },
  ])('builds the transport for a $case', ({ address, type }) => {
    expect(createTransport(address, { lambda: new LambdaClient({ region: 'us-east-1' }) })).toBeInstanceOf(type);
  });
});

async function freePort(): Promise<number> {
  const server = http2.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
