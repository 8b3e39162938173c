import { describe, expect, it } from 'vitest';
import { TransportError } from '../../lib/endpoint/errors.js';
import { decodeDiscoveryResponse, discover, DiscoveryError, encodeDiscoveryResponse } from '../../lib/registry/discovery.js';
import { discoveryAnswer, fakeTransport, routerEndpoint, sdkDiscovery } from './support.js';

const FAST = { initialDelayMs: 1, maxDelayMs: 2 };

describe('discover', () => {
  it('posts an empty body with proto content negotiation and decodes the answer', async () => {
    const transport = fakeTransport(discoveryAnswer({ files: new Uint8Array([1, 2]), services: ['a', 'b'], protocolMode: 'RequestResponse' }));

    const found = await discover(transport);

    expect(transport.calls).toEqual([
      {
        path: '/discover',
        headers: { 'content-type': 'application/proto', accept: 'application/proto' },
        body: new Uint8Array(0),
        signal: expect.any(AbortSignal),
      },
    ]);
    expect(found).toEqual({
      files: new Uint8Array([1, 2]),
      services: ['a', 'b'],
      minProtocolVersion: 0,
      maxProtocolVersion: 0,
      protocolMode: 'RequestResponse',
    });
  });

  it('decodes what the real SDK sends', async () => {
    const found = decodeDiscoveryResponse((await sdkDiscovery(routerEndpoint())).body);

    expect(found.services).toEqual(['greeter', 'counter']);
    expect(found.protocolMode).toBe('RequestResponse');
    expect(found.files.byteLength).toBeGreaterThan(1000);
  });

  it.each([
    {
      case: 'a JSON content type',
      headers: { 'content-type': 'application/json' },
      status: 200,
      message: /Bad content type header.*application\/json.*\(HTTP 200\)$/,
    },
    { case: 'a parameterised content type', headers: { 'content-type': 'application/proto; charset=x' }, status: 200, message: /Bad content type header/ },
    { case: 'no content type', headers: {}, status: 200, message: /Bad content type header/ },
    { case: 'a 404', headers: { 'content-type': 'application/proto' }, status: 404, message: /answered HTTP 404 \(content type 'application\/proto'\)/ },
  ])('rejects $case with a 400', async ({ headers, status, message }) => {
    const transport = fakeTransport({ status, headers: headers as Record<string, string>, body: Buffer.from('{"oops":1}') });

    const err = await discover(transport, FAST).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DiscoveryError);
    expect((err as DiscoveryError).httpStatus).toBe(400);
    expect((err as DiscoveryError).restateCode).toBe('META0003');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('oops');
    expect(transport.calls).toHaveLength(1);
  });

  it('retries 5xx and connection failures, then succeeds', async () => {
    let n = 0;
    const transport = fakeTransport(async () => {
      n++;
      if (n === 1) throw new TransportError('connect ECONNREFUSED');
      if (n === 2) return { status: 503, headers: {}, body: new Uint8Array() };
      return discoveryAnswer({ services: ['x'] });
    });

    const found = await discover(transport, FAST);

    expect(found.services).toEqual(['x']);
    expect(transport.calls).toHaveLength(3);
  });

  it('reports an unreachable endpoint clearly after the last attempt', async () => {
    const transport = fakeTransport(async () => {
      throw new TransportError('cannot reach endpoint http://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1');
    });

    const err = await discover(transport, { ...FAST, attempts: 3, describe: 'http://127.0.0.1:1' }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DiscoveryError);
    expect((err as Error).message).toMatch(/^Cannot reach http:\/\/127\.0\.0\.1:1 to run discovery: .*ECONNREFUSED/);
    expect(transport.calls).toHaveLength(3);
  });

  it('does not retry errors that cannot heal', async () => {
    const transport = fakeTransport(async () => {
      throw new TransportError('ResourceNotFoundException', { retryable: false });
    });

    await expect(discover(transport, FAST)).rejects.toThrow(DiscoveryError);
    expect(transport.calls).toHaveLength(1);
  });

  it('rejects a body that is not a discovery response', async () => {
    const transport = fakeTransport({ status: 200, headers: { 'content-type': 'application/proto' }, body: new Uint8Array([0x0a, 0xff]) });

    await expect(discover(transport, FAST)).rejects.toThrow(/Cannot decode the discovery response/);
  });

  it('round-trips through encodeDiscoveryResponse', () => {
    const value = { files: new Uint8Array([9]), services: ['s'], minProtocolVersion: 1, maxProtocolVersion: 2, protocolMode: 'RequestResponse' as const };

    expect(decodeDiscoveryResponse(encodeDiscoveryResponse(value))).toEqual(value);
  });
});
