/**
 * Discovery of the example endpoints through the real SDK's `lambdaHandler()`, decoded with our
 * own `dev.restate.service.discovery` schema.
 */
import { fromBinary } from '@bufbuild/protobuf';
import type { FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import type { RestateEndpoint } from '@restatedev/restate-sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ProtocolMode, ServiceDiscoveryResponseSchema, type ServiceDiscoveryResponse } from '../../gen/dev/restate/service/discovery_pb.js';
import { GREETER_SERVICE, greeterEndpoint } from '../../examples/greeter/greeter.js';
import { servicesEndpoint } from '../../examples/services.js';
import { callLambda } from './helpers.js';

async function discover(endpoint: RestateEndpoint): Promise<ServiceDiscoveryResponse> {
  const res = await callLambda(endpoint, '/discover', new Uint8Array());
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('application/proto');
  return fromBinary(ServiceDiscoveryResponseSchema, res.body);
}

/** The service_type the SDK attached to a service, as the uninterpreted option it sends. */
function serviceType(file: FileDescriptorProto | undefined, service: string): string | undefined {
  const options = file?.service.find((s) => s.name === service)?.options?.uninterpretedOption ?? [];
  const option = options.find((o) => o.name.map((n) => n.namePart).join('.') === 'dev.restate.ext.service_type');
  return option?.identifierValue;
}

describe('discovery of the example endpoints', () => {
  beforeAll(() => {
    for (const level of ['log', 'info', 'debug'] as const) vi.spyOn(console, level).mockImplementation(() => undefined);
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  it('lists greeter, counter and sleeper in request/response mode for the router endpoint', async () => {
    // Act
    const found = await discover(servicesEndpoint());

    // Assess
    expect(found.services).toEqual(['greeter', 'counter', 'sleeper']);
    expect(found.protocolMode).toBe(ProtocolMode.REQUEST_RESPONSE);
    expect([found.minProtocolVersion, found.maxProtocolVersion]).toEqual([0, 0]);
    const dynrpc = found.files?.file.find((f) => f.name === 'proto/dynrpc.proto');
    expect(serviceType(dynrpc, 'greeter')).toBe('UNKEYED');
    expect(serviceType(dynrpc, 'counter')).toBe('KEYED');
    expect(serviceType(dynrpc, 'sleeper')).toBe('UNKEYED');
    expect(dynrpc?.service.find((s) => s.name === 'counter')?.method.map((m) => m.name)).toEqual(['add', 'get']);
  });

  it('lists org.example.Greeter, unkeyed, with the files it imports for the protobuf endpoint', async () => {
    // Act
    const found = await discover(greeterEndpoint());

    // Assess
    expect(found.services).toEqual([GREETER_SERVICE]);
    expect(found.protocolMode).toBe(ProtocolMode.REQUEST_RESPONSE);
    const names = found.files?.file.map((f) => f.name) ?? [];
    expect(names).toEqual(expect.arrayContaining(['greeter.proto', 'dev/restate/ext.proto', 'google/protobuf/descriptor.proto']));
    const greeter = found.files?.file.find((f) => f.name === 'greeter.proto');
    expect(greeter?.package).toBe('org.example');
    expect(serviceType(greeter, 'Greeter')).toBe('UNKEYED');
    expect(greeter?.service[0]?.method.map((m) => [m.name, m.inputType, m.outputType])).toEqual([
      ['Greet', '.org.example.GreetRequest', '.org.example.GreetResponse'],
    ]);
  });
});
