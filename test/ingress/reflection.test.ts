/**
 * Server reflection: what is described (public and built-in services), how SDK descriptors are
 * rewritten for clients (dotted router names, dropped defaults, clashing file names), and the
 * bidi stream over native gRPC.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import * as restate from '@restatedev/restate-sdk';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as v1 from '../../gen/grpc/reflection/v1/reflection_pb.js';
import * as v1alpha from '../../gen/grpc/reflection/v1alpha/reflection_pb.js';
import { answer, ReflectionCatalogue, servedFiles } from '../../lib/ingress/reflection.js';
import { restoreDefaults } from '../../lib/registry/descriptors.js';
import type { ServiceResolver } from '../../lib/registry/types.js';
import { DescriptorSchema } from '../../lib/registry/schema.js';
import { exampleEndpoint } from '../../examples/example-endpoint.js';
import { counterRouter, greeterRouter } from '../../examples/services.js';
import { inProcessTransport, staticResolver } from '../support/sdk.js';
import { bufCurl, createTestIngress, type Ingress } from './support.js';

type RequestInit = MessageInitShape<typeof v1.ServerReflectionRequestSchema>['messageRequest'];

let ingress: Ingress;
beforeAll(async () => {
  ingress = await createTestIngress();
});
afterAll(() => ingress.close());

async function ask(messageRequest: RequestInit, resolver: ServiceResolver = ingress.deps.resolver, sent = new Set<string>()) {
  const snapshot = await new ReflectionCatalogue(resolver).snapshot();
  return answer(snapshot, create(v1.ServerReflectionRequestSchema, { messageRequest }), sent).messageResponse!;
}

function filesOf(res: Awaited<ReturnType<typeof ask>>): FileDescriptorProto[] {
  if (res.case !== 'fileDescriptorResponse') throw new Error(`expected files, got ${JSON.stringify(res)}`);
  return (res.value!.fileDescriptorProto ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b));
}

describe('reflection answers', () => {
  it.each([
    { $case: 'a protobuf service', symbol: 'org.example.Greeter', file: 'greeter.proto' },
    { $case: 'a method', symbol: 'org.example.Greeter.Greet', file: 'greeter.proto' },
    { $case: 'a message', symbol: 'org.example.GreetRequest', file: 'greeter.proto' },
    { $case: 'a router service', symbol: 'counter', file: 'proto/dynrpc.proto' },
    { $case: 'a router message (package-less)', symbol: 'RpcRequest', file: 'proto/dynrpc.proto' },
    { $case: 'a dotted router service', symbol: 'org.example.Dotted', file: 'restless/services/org.example.Dotted.proto' },
    { $case: 'a built-in', symbol: 'dev.restate.Ingress', file: 'dev/restate/services.proto' },
    { $case: 'the health service', symbol: 'grpc.health.v1.Health', file: 'grpc/health/v1/health.proto' },
    { $case: 'a nested enum', symbol: 'grpc.health.v1.HealthCheckResponse.ServingStatus', file: 'grpc/health/v1/health.proto' },
  ])('finds the file declaring $$case', async ({ symbol, file }) => {
    const files = filesOf(await ask({ case: 'fileContainingSymbol', value: symbol }));
    expect(files[0]!.name).toBe(file);
  });

  it('sends the file first, then every transitive import once per stream', async () => {
    const sent = new Set<string>();
    const first = filesOf(await ask({ case: 'fileContainingSymbol', value: 'org.example.Dotted' }, undefined, sent));
    expect(first.map((f) => f.name)).toEqual([
      'restless/services/org.example.Dotted.proto',
      'proto/dynrpc.proto',
      'dev/restate/ext.proto',
      'google/protobuf/descriptor.proto',
      'dev/restate/events.proto',
      'google/protobuf/struct.proto',
      'google/protobuf/empty.proto',
    ]);
    const again = filesOf(await ask({ case: 'fileContainingSymbol', value: 'greeter' }, undefined, sent));
    expect(again.map((f) => f.name)).toEqual(['proto/dynrpc.proto']);
  });

  it('moves a dotted router name into a synthetic file with a package', async () => {
    const [synthetic, dynrpc] = filesOf(await ask({ case: 'fileByFilename', value: 'restless/services/org.example.Dotted.proto' }));

    expect(synthetic).toMatchObject({ package: 'org.example', dependency: ['proto/dynrpc.proto'] });
    expect(synthetic!.service.map((s) => s.name)).toEqual(['Dotted']);
    expect(synthetic!.service[0]!.method.map((m) => [m.name, m.inputType, m.outputType])).toEqual([['greet', '.RpcRequest', '.RpcResponse']]);
    expect(dynrpc!.service.map((s) => s.name)).toEqual(['greeter', 'counter', 'sleeper']);
  });

  it.each([
    { $case: 'the private service', symbol: 'secret' },
    { $case: 'a method of the private service', symbol: 'secret.greet' },
    { $case: 'an unknown symbol', symbol: 'nope.Nope' },
  ])('answers NOT_FOUND for $$case', async ({ symbol }) => {
    const res = await ask({ case: 'fileContainingSymbol', value: symbol });
    expect(res).toMatchObject({ case: 'errorResponse', value: { errorCode: 5, errorMessage: `symbol '${symbol}' not found` } });
  });

  it('answers NOT_FOUND for an unknown file name', async () => {
    const res = await ask({ case: 'fileByFilename', value: 'nope.proto' });
    expect(res).toMatchObject({ case: 'errorResponse', value: { errorCode: 5 } });
  });

  it('lists the extensions of a type and finds the file of one', async () => {
    const numbers = await ask({ case: 'allExtensionNumbersOfType', value: 'google.protobuf.ServiceOptions' });
    expect(numbers).toMatchObject({ case: 'allExtensionNumbersResponse', value: { baseTypeName: 'google.protobuf.ServiceOptions', extensionNumber: [51234] } });
    const file = filesOf(await ask({ case: 'fileContainingExtension', value: { containingType: 'google.protobuf.FieldOptions', extensionNumber: 51234 } }));
    expect(file[0]!.name).toBe('dev/restate/ext.proto');
  });

  it('sees a service registered after the first answer', async () => {
    const base = ingress.deps.resolver;
    let hideCounter = true;
    const resolver: ServiceResolver = {
      resolve: (name) => (hideCounter && name === 'counter' ? Promise.resolve(undefined) : base.resolve(name)),
      resolveDeployment: (id, name) => base.resolveDeployment(id, name),
      list: async () => (await base.list()).filter((s) => !(hideCounter && s.name === 'counter')),
    };
    const catalogue = new ReflectionCatalogue(resolver);
    const list = async () => {
      const res = answer(
        await catalogue.snapshot(),
        create(v1.ServerReflectionRequestSchema, { messageRequest: { case: 'listServices', value: '' } }),
        new Set(),
      ).messageResponse!;
      return res.case === 'listServicesResponse' ? (res.value!.service ?? []).map((s) => s.name) : [];
    };

    expect(await list()).not.toContain('counter');
    hideCounter = false;
    expect(await list()).toContain('counter');
  });
});

describe('servedFiles', () => {
  const file = (init: MessageInitShape<typeof FileDescriptorProtoSchema>) => create(FileDescriptorProtoSchema, { syntax: 'proto3', ...init });

  it('renames a different file under a name another endpoint already serves, imports included', () => {
    const existing = new Map([['proto/dynrpc.proto', file({ name: 'proto/dynrpc.proto', messageType: [{ name: 'RpcRequest' }] })]]);
    const mine = [
      file({
        name: 'proto/dynrpc.proto',
        messageType: [{ name: 'RpcRequest' }, { name: 'Other' }],
        service: [{ name: 'two', method: [{ name: 'm', inputType: '.RpcRequest', outputType: '.RpcRequest' }] }],
      }),
    ];

    const served = servedFiles(mine, new Set(['two']), existing, 'ep-2');

    expect(served.map((f) => f.name)).toEqual(['ep-2/proto/dynrpc.proto']);
  });

  it('serves a file declaring the same types once: the later services move to a file that imports the first copy', () => {
    const existing = new Map([
      [
        'proto/dynrpc.proto',
        file({ name: 'proto/dynrpc.proto', dependency: ['ext.proto'], messageType: [{ name: 'RpcRequest' }], service: [{ name: 'one' }] }),
      ],
      ['ext.proto', file({ name: 'ext.proto', package: 'ext', enumType: [{ name: 'E', value: [{ name: 'A', number: 0 }] }] })],
    ]);
    const mine = [
      // The same types with other options and no services: the first copy stands for it.
      file({ name: 'ext.proto', package: 'ext', enumType: [{ name: 'E', value: [{ name: 'A', number: 0 }] }], options: { javaPackage: 'x' } }),
      file({
        name: 'proto/dynrpc.proto',
        dependency: ['ext.proto'],
        messageType: [{ name: 'RpcRequest' }],
        service: [{ name: 'two', method: [{ name: 'm', inputType: '.RpcRequest', outputType: '.RpcRequest' }] }],
      }),
    ];

    const served = servedFiles(mine, new Set(['two']), existing, 'ep-2');

    expect(served.map((f) => ({ name: f.name, dependency: f.dependency, messages: f.messageType.length, services: f.service.map((s) => s.name) }))).toEqual([
      { name: 'ep-2/proto/dynrpc.proto', dependency: ['proto/dynrpc.proto', 'ext.proto'], messages: 0, services: ['two'] },
    ]);
  });

  it('leaves out names that are not proto identifiers and files no kept service needs', () => {
    const served = servedFiles(
      [file({ name: 'a.proto', service: [{ name: 'my-service' }] }), file({ name: 'b.proto', service: [{ name: 'ok' }] }), file({ name: 'unused.proto' })],
      new Set(['my-service', 'ok']),
      new Map(),
      'ep',
    );
    expect(served.map((f) => [f.name, f.service.map((s) => s.name)])).toEqual([['b.proto', ['ok']]]);
  });

  it('puts back enum value numbers and proto3 optional oneof indexes the SDK encoder dropped', () => {
    const f = restoreDefaults(
      file({
        name: 'x.proto',
        enumType: [{ name: 'E', value: [{ name: 'ZERO' }] }],
        messageType: [{ name: 'M', field: [{ name: 'o', number: 1, proto3Optional: true }], oneofDecl: [{ name: '_o' }] }],
      }),
    );
    // proto2 presence: an own property is a field that is set (and encoded).
    expect(Object.hasOwn(f.enumType[0]!.value[0]!, 'number')).toBe(true);
    expect(Object.hasOwn(f.messageType[0]!.field[0]!, 'oneofIndex')).toBe(true);
    expect(f.messageType[0]!.field[0]!.oneofIndex).toBe(0);
  });
});

describe('reflection over native gRPC (bidi stream)', () => {
  it.each([
    { $case: 'v1', service: v1.ServerReflection, request: v1.ServerReflectionRequestSchema },
    { $case: 'v1alpha', service: v1alpha.ServerReflection, request: v1alpha.ServerReflectionRequestSchema },
  ])('answers several requests on one $$case stream', async ({ service, request }) => {
    const url = await ingress.serve();
    const client = createClient(service as typeof v1.ServerReflection, createGrpcTransport({ baseUrl: url }));
    async function* requests() {
      yield create(request as typeof v1.ServerReflectionRequestSchema, { host: 'h', messageRequest: { case: 'listServices', value: '*' } });
      yield create(request as typeof v1.ServerReflectionRequestSchema, { host: 'h', messageRequest: { case: 'fileContainingSymbol', value: 'secret' } });
      yield create(request as typeof v1.ServerReflectionRequestSchema, {
        host: 'h',
        messageRequest: { case: 'fileContainingSymbol', value: 'org.example.Greeter' },
      });
    }

    const answers = [];
    for await (const res of client.serverReflectionInfo(requests())) answers.push(res);

    expect(answers.map((a) => a.messageResponse.case)).toEqual(['listServicesResponse', 'errorResponse', 'fileDescriptorResponse']);
    expect(answers[0]!.validHost).toBe('h');
    expect(answers[0]!.originalRequest?.messageRequest.case).toBe('listServices');
  });
});

describe('two SDK endpoints with routers', () => {
  /** The example endpoint and another one whose router sorts before `counter`, as a user's own endpoint beside `npm start`'s. */
  async function twoEndpoints(): Promise<ServiceResolver> {
    const other = await staticResolver(inProcessTransport(restate.endpoint().bindKeyedRouter('cart', counterRouter).bindRouter('ops', greeterRouter)), {
      endpointId: 'ep-other',
    });
    const example = await staticResolver(inProcessTransport(exampleEndpoint()), { endpointId: 'ep-example' });
    for (const r of [other, example]) r.endpoint.descriptorSet = DescriptorSchema.decode(r.endpoint.descriptorSet).toBinary();
    return {
      resolve: async (name) => (await other.resolve(name)) ?? example.resolve(name),
      resolveDeployment: async (id, name) => (await other.resolveDeployment(id, name)) ?? example.resolveDeployment(id, name),
      list: async () => [...(await other.list()), ...(await example.list())],
    };
  }

  /** What `buf curl` (Go's protodesc) makes of files: the methods it lists, or its error. */
  async function bufListMethods(files: FileDescriptorProto[]): Promise<{ code: number; methods: string[]; stderr: string }> {
    const path = join(await mkdtemp(join(tmpdir(), 'restless-reflect-')), 'served.binpb');
    await writeFile(path, toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files })));
    const res = await bufCurl(['--schema', path, '--list-methods', 'http://127.0.0.1:9']);
    return { code: res.code, methods: res.stdout.trim().split('\n'), stderr: res.stderr };
  }

  it.each(['counter', 'cart'])('describes %s with files a gRPC client can load (one copy of each symbol)', async (symbol) => {
    const files = filesOf(await ask({ case: 'fileContainingSymbol', value: symbol }, await twoEndpoints()));

    const listed = await bufListMethods(files);

    expect(listed.stderr).toBe('');
    expect(listed.methods).toContain(`${symbol}/add`);
  });

  it('describes every service of both on one stream, as --list-methods asks', async () => {
    const resolver = await twoEndpoints();
    const sent = new Set<string>();
    const files = new Map<string, FileDescriptorProto>();
    for (const symbol of ['cart', 'counter', 'greeter', 'ops', 'org.example.Greeter', 'sleeper']) {
      // The file asked for comes first on every answer; a client keeps one copy per name.
      for (const f of filesOf(await ask({ case: 'fileContainingSymbol', value: symbol }, resolver, sent))) files.set(f.name, f);
    }

    const listed = await bufListMethods([...files.values()]);

    expect(listed.stderr).toBe('');
    expect(listed.methods).toEqual(
      expect.arrayContaining(['cart/add', 'counter/add', 'greeter/greet', 'ops/greet', 'org.example.Greeter/Greet', 'sleeper/sleep']),
    );
  });
});
