import { describe, expect, it } from 'vitest';
import { create, fromBinary, fromJson, isFieldSet, toBinary, toJson } from '@bufbuild/protobuf';
import { FieldDescriptorProto_Type, FieldDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as restate from '@restatedev/restate-sdk';
import { decodeDiscoveryResponse } from '../../lib/registry/discovery.js';
import { BadDescriptorError, decodeDescriptorSet, repairDescriptorSet } from '../../lib/registry/descriptors.js';
import { compileServices, DescriptorSchema } from '../../lib/registry/schema.js';
import { counter, descriptorSetBytes, greeter, handBuiltFile, routerEndpoint, sdkDiscovery, testGreeterEndpoint } from './support.js';

async function filesOf(endpoint: restate.RestateEndpoint): Promise<Uint8Array> {
  return decodeDiscoveryResponse((await sdkDiscovery(endpoint)).body).files;
}

describe('repairDescriptorSet', () => {
  it('sorts files after their imports and swaps in the canonical well-known types', async () => {
    const raw = decodeDescriptorSet(await filesOf(routerEndpoint()));
    expect(raw.file.map((f) => f.name).indexOf('dev/restate/ext.proto')).toBeLessThan(raw.file.map((f) => f.name).indexOf('google/protobuf/descriptor.proto'));

    const repaired = repairDescriptorSet(raw);

    const names = repaired.file.map((f) => f.name);
    for (const [i, file] of repaired.file.entries()) {
      for (const dep of file.dependency) expect(names.indexOf(dep)).toBeLessThan(i);
    }
    const value = repaired.file.find((f) => f.name === 'google/protobuf/struct.proto')!.messageType.find((m) => m.name === 'Value')!;
    expect(value.field.every((f) => isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && f.oneofIndex === 0)).toBe(true);
  });

  it('adds a well-known file that is imported but missing', () => {
    const file = handBuiltFile({ serviceType: 1 });
    file.dependency.push('google/protobuf/empty.proto');

    const repaired = repairDescriptorSet(create(FileDescriptorSetSchema, { file: [file] }));

    expect(repaired.file.map((f) => f.name)).toEqual(['google/protobuf/empty.proto', file.name]);
  });

  it('rejects an import that is nowhere to be found', () => {
    const file = handBuiltFile({ serviceType: 1 });
    file.dependency.push('acme/missing.proto');

    expect(() => repairDescriptorSet(create(FileDescriptorSetSchema, { file: [file] }))).toThrow(/imports 'acme\/missing.proto'/);
  });
});

describe('DescriptorSchema', () => {
  it('compiles router services: greeter unkeyed, counter keyed on RpcRequest.key', async () => {
    const services = compileServices(await filesOf(routerEndpoint()), ['greeter', 'counter']);

    expect(services.get('greeter')).toMatchObject({
      instanceType: 'Unkeyed',
      methods: [{ name: 'greet', input_type: 'RpcRequest', output_type: 'RpcResponse' }],
      file: 'proto/dynrpc.proto',
    });
    expect(services.get('greeter')!.methods[0]).not.toHaveProperty('key_field_number');
    expect(services.get('counter')).toMatchObject({
      instanceType: 'Keyed',
      methods: [
        { name: 'add', key_field_number: 1 },
        { name: 'get', key_field_number: 1 },
      ],
    });
    expect(services.get('counter')!.resolved.get('add')!.keyField!.name).toBe('key');
  });

  it('transcodes RpcRequest JSON with google.protobuf.Value intact after the repair', async () => {
    const add = compileServices(await filesOf(routerEndpoint()), ['counter'])
      .get('counter')!
      .resolved.get('add')!;

    const message = fromJson(add.input, { key: 'k', request: { a: 1 } });
    const bytes = toBinary(add.input, message);

    expect(toJson(add.input, fromBinary(add.input, bytes))).toEqual({ key: 'k', request: { a: 1 } });
    expect(add.input.typeName).toBe('RpcRequest');
    expect(toJson(add.output, fromJson(add.output, { response: ['x', 2] }))).toEqual({ response: ['x', 2] });
  });

  it('knows the SDK descriptor is broken without the repair', async () => {
    // Why the repair exists: the SDK's own struct.proto lost Value.kind's oneof membership.
    const raw = decodeDescriptorSet(await filesOf(routerEndpoint()));
    const value = raw.file.find((f) => f.name === 'google/protobuf/struct.proto')!.messageType.find((m) => m.name === 'Value')!;
    expect(value.field.some((f) => isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex))).toBe(false);
  });

  it('keys dotted router names by package + name from the raw descriptor', async () => {
    const endpoint = restate.endpoint().bindRouter('org.example.Dotted', greeter).bindKeyedRouter('org.example.Counter', counter);

    const services = compileServices(await filesOf(endpoint));

    expect([...services.keys()].sort()).toEqual(['org.example.Counter', 'org.example.Dotted']);
    expect(services.get('org.example.Dotted')).toMatchObject({ instanceType: 'Unkeyed', methods: [{ name: 'greet', input_type: 'RpcRequest' }] });
  });

  it('reads KEYED from the SDK UninterpretedOption of a bindService descriptor', async () => {
    const service = compileServices(await filesOf(testGreeterEndpoint()), ['test.TestGreeter']).get('test.TestGreeter')!;

    expect(service).toMatchObject({
      instanceType: 'Keyed',
      methods: [{ name: 'Greet', input_type: 'test.TestRequest', output_type: 'test.TestResponse', key_field_number: 1 }],
    });
    const greet = service.resolved.get('Greet')!;
    expect(toJson(greet.input, fromJson(greet.input, { name: 'Ada' }))).toEqual({ name: 'Ada' });
  });

  it.each([
    { case: 'KEYED', serviceType: 1, instanceType: 'Keyed', key: 1 },
    { case: 'UNKEYED', serviceType: 0, instanceType: 'Unkeyed', key: undefined },
    { case: 'SINGLETON', serviceType: 2, instanceType: 'Singleton', key: undefined },
  ])('reads $case from the real extension field 51234', ({ serviceType, instanceType, key }) => {
    const services = compileServices(descriptorSetBytes(handBuiltFile({ serviceType })));

    const store = services.get('ext.example.Store')!;
    expect(store.instanceType).toBe(instanceType);
    expect(store.methods[0]!.key_field_number).toBe(key);
    expect(store.methods.map((m) => m.name)).toEqual(['Put', 'Get']);
  });

  it.each([
    { case: 'a missing service_type', file: handBuiltFile({}), message: /no \(dev.restate.ext.service_type\) option/, code: 'META0001' },
    {
      case: 'a keyed service without methods',
      file: handBuiltFile({ serviceType: 1, methods: [] }),
      message: /Keyed service 'ext.example.Store' has no methods/,
      code: 'META0001',
    },
    {
      case: 'a keyed input without KEY field',
      file: handBuiltFile({ serviceType: 1, keyField: false }),
      message: /exactly one field marked .* KEY; found 0/,
      code: 'META0002',
    },
    {
      case: 'a non-string KEY field',
      file: handBuiltFile({ serviceType: 1, keyType: FieldDescriptorProto_Type.INT32 }),
      message: /KEY field 'id' .* must be a string/,
      code: 'META0002',
    },
    { case: 'a streaming method', file: handBuiltFile({ serviceType: 0, streaming: true }), message: /is streaming/, code: 'META0001' },
    { case: 'a dev.restate name', file: handBuiltFile({ serviceType: 0, pkg: 'dev.restate.mine' }), message: /reserved/, code: 'META0001' },
    { case: 'a grpc name', file: handBuiltFile({ serviceType: 0, pkg: 'grpc.health.v9' }), message: /reserved/, code: 'META0001' },
  ])('rejects $case with a 400', ({ file, message, code }) => {
    const schema = DescriptorSchema.decode(descriptorSetBytes(file));

    const err = (() => {
      try {
        schema.service(schema.serviceNames[0]!);
      } catch (e) {
        return e;
      }
    })();

    expect(err).toBeInstanceOf(BadDescriptorError);
    expect((err as BadDescriptorError).httpStatus).toBe(400);
    expect((err as BadDescriptorError).restateCode).toBe(code);
    expect((err as Error).message).toMatch(message);
  });

  it('accepts an unkeyed service without a KEY field', () => {
    expect(compileServices(descriptorSetBytes(handBuiltFile({ serviceType: 0, keyField: false }))).get('ext.example.Store')!.instanceType).toBe('Unkeyed');
  });

  it('rejects a service announced but absent from the descriptors', () => {
    expect(() => compileServices(descriptorSetBytes(handBuiltFile({ serviceType: 0 })), ['nope.Nope'])).toThrow(/missing from its descriptors/);
  });

  it('rejects bytes that are not a FileDescriptorSet', () => {
    expect(() => DescriptorSchema.decode(new Uint8Array([0x0a, 0x05, 0x01]))).toThrow(BadDescriptorError);
  });

  it('serves the descriptors of one service: its file and the imports, in order', async () => {
    const schema = DescriptorSchema.decode(await filesOf(routerEndpoint()));

    const names = schema.descriptorsFor('greeter').file.map((f) => f.name);

    expect(names.at(-1)).toBe('proto/dynrpc.proto');
    expect(names).toContain('google/protobuf/struct.proto');
    expect(names).toContain('google/protobuf/descriptor.proto');
  });

  it('is idempotent: a stored (repaired) set compiles to the same services', async () => {
    const first = DescriptorSchema.decode(await filesOf(routerEndpoint()));
    const again = DescriptorSchema.decode(first.toBinary());

    expect(again.toBinary()).toEqual(first.toBinary());
    expect(again.service('counter').methods).toEqual(first.service('counter').methods);
  });
});
