import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as restate from '@restatedev/restate-sdk';
import { H2cSessionPool } from '../../lib/endpoint/h2c.js';
import { createTransport } from '../../lib/endpoint/transport.js';
import type { EndpointAddress, EndpointTransport } from '../../lib/endpoint/types.js';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { ConflictError, NotFoundError, PermissionDeniedError, RestlessError } from '../../lib/errors.js';
import { IncompatibleChangeError } from '../../lib/registry/deployments.js';
import { restoreDefaults } from '../../lib/registry/descriptors.js';
import { DESCRIPTOR_CHUNK_BYTES, RegistryStore } from '../../lib/registry/registry-store.js';
import { Registry } from '../../lib/registry/registry.js';
import { keys, type TableClients } from '../../lib/store/table.js';
import { freshTable } from '../support/ddb.js';
import {
  counter,
  descriptorSetBytes,
  discoveryAnswer,
  fakeTransport,
  greeter,
  handBuiltFile,
  lambdaEndpoint,
  routerEndpoint,
  startH2cEndpoint,
  TEST_ARN,
  testGreeterEndpoint,
  type H2cEndpoint,
} from './support.js';

const FAST = { attempts: 2, initialDelayMs: 1, maxDelayMs: 2 };
const b64url = (s: string) => Buffer.from(s).toString('base64url');

/** Catches the rejection of `p` for assertions on its fields. */
async function failure(p: Promise<unknown>): Promise<RestlessError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RestlessError);
  return err as RestlessError;
}

describe('Registry', () => {
  let tables: TableClients;
  let store: RegistryStore;
  let registry: Registry;
  let h2c: H2cEndpoint;
  let dotted: H2cEndpoint;
  const pool = new H2cSessionPool();
  const lambda = lambdaEndpoint(testGreeterEndpoint());
  /** uri → fake transport, for descriptors the SDK cannot produce. */
  const fakes = new Map<string, EndpointTransport>();

  const fake = (uri: string, transport: EndpointTransport) => {
    fakes.set(uri, transport);
    return uri;
  };
  const announcing = (uri: string, bytes: Uint8Array, services: string[]) =>
    fake(uri, fakeTransport(discoveryAnswer({ files: bytes, services, protocolMode: 'RequestResponse' })));

  beforeAll(async () => {
    h2c = await startH2cEndpoint(routerEndpoint());
    dotted = await startH2cEndpoint(restate.endpoint().bindRouter('org.example.Dotted', greeter).bindKeyedRouter('org.example.Counter', counter));
  });
  afterAll(async () => {
    await pool.close();
    await Promise.all([h2c.close(), dotted.close()]);
  });
  beforeEach(async () => {
    tables = await freshTable('registry');
    store = new RegistryStore(tables);
    fakes.clear();
    registry = new Registry({
      store,
      discovery: FAST,
      transportFor: (address: EndpointAddress) =>
        (address.kind === 'http' ? fakes.get(address.uri) : undefined) ?? createTransport(address, { lambda: lambda.client, h2Pool: pool }),
    });
  });

  describe('register', () => {
    it('registers router services of an h2c endpoint: greeter unkeyed, counter keyed', async () => {
      const result = await registry.register({ uri: h2c.uri });

      const id = b64url(`${new URL(h2c.uri).host}/`);
      expect(result.id).toBe(id);
      expect(result.services).toEqual([
        {
          name: 'greeter',
          methods: [{ name: 'greet', input_type: 'RpcRequest', output_type: 'RpcResponse' }],
          instance_type: 'Unkeyed',
          endpoint_id: id,
          revision: 1,
          public: true,
        },
        {
          name: 'counter',
          methods: [
            { name: 'add', input_type: 'RpcRequest', output_type: 'RpcResponse', key_field_number: 1 },
            { name: 'get', input_type: 'RpcRequest', output_type: 'RpcResponse', key_field_number: 1 },
          ],
          instance_type: 'Keyed',
          endpoint_id: id,
          revision: 1,
          public: true,
        },
      ]);
      expect(await registry.listServices()).toEqual([result.services[1], result.services[0]]);
      expect(await registry.getEndpoint(id)).toMatchObject({
        id,
        address: { kind: 'http', uri: h2c.uri, additionalHeaders: {} },
        protocolType: 'BidiStream',
        services: { greeter: 1, counter: 1 },
      });
      expect(h2c.paths).toContain('/discover');
    });

    it('registers a Lambda endpoint with the bindService TestGreeter (keyed through the SDK option)', async () => {
      const result = await registry.register({ arn: TEST_ARN, additional_headers: { 'x-api-key': 'secret' } });

      expect(result.id).toBe(b64url(TEST_ARN));
      expect(result.services).toEqual([
        {
          name: 'test.TestGreeter',
          methods: [{ name: 'Greet', input_type: 'test.TestRequest', output_type: 'test.TestResponse', key_field_number: 1 }],
          instance_type: 'Keyed',
          endpoint_id: b64url(TEST_ARN),
          revision: 1,
          public: true,
        },
      ]);
      expect(await registry.getEndpoint(result.id)).toMatchObject({
        address: { kind: 'lambda', arn: TEST_ARN, additionalHeaders: { 'x-api-key': 'secret' } },
        protocolType: 'RequestResponse',
      });
      expect(lambda.payloads.at(-1)).toMatchObject({
        path: '/discover',
        httpMethod: 'POST',
        headers: { 'x-api-key': 'secret', 'content-type': 'application/proto' },
      });
    });

    it('registers dotted router names', async () => {
      const result = await registry.register({ uri: dotted.uri });

      expect(result.services.map((s) => [s.name, s.instance_type])).toEqual([
        ['org.example.Dotted', 'Unkeyed'],
        ['org.example.Counter', 'Keyed'],
      ]);
      expect((await registry.getService('org.example.Dotted')).methods).toEqual([{ name: 'greet', input_type: 'RpcRequest', output_type: 'RpcResponse' }]);
    });

    it('registers a protoc-style descriptor with the real extension field 51234', async () => {
      const uri = announcing('http://protoc.test:9080', descriptorSetBytes(handBuiltFile({ serviceType: 1 })), ['ext.example.Store']);

      const result = await registry.register({ uri });

      expect(result.services[0]).toMatchObject({
        name: 'ext.example.Store',
        instance_type: 'Keyed',
        methods: [{ name: 'Put', key_field_number: 1 }, { name: 'Get' }],
      });
    });

    it.each([
      { case: 'a reserved name', file: handBuiltFile({ serviceType: 0, pkg: 'dev.restate.mine' }), service: 'dev.restate.mine.Store', message: /reserved/ },
      {
        case: 'a keyed input without KEY field',
        file: handBuiltFile({ serviceType: 1, keyField: false }),
        service: 'ext.example.Store',
        message: /exactly one field marked/,
      },
      { case: 'a missing service_type', file: handBuiltFile({}), service: 'ext.example.Store', message: /service_type/ },
    ])('rejects $case with a 400 and writes nothing', async ({ file, service, message }) => {
      const uri = announcing('http://bad.test:9080', descriptorSetBytes(file), [service]);

      const err = await failure(registry.register({ uri }));

      expect(err.httpStatus).toBe(400);
      expect(err.message).toMatch(message);
      expect(await registry.listEndpoints()).toEqual([]);
    });

    it('rejects a discovery answer with the wrong content type', async () => {
      const uri = fake(
        'http://json.test:9080',
        fakeTransport({ status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"services":[]}') }),
      );

      const err = await failure(registry.register({ uri }));

      expect(err.httpStatus).toBe(400);
      expect(err.restateCode).toBe('META0003');
      expect(err.message).toMatch(/Bad content type header .*application\/json/);
      // The target's body is never relayed.
      expect(err.message).not.toContain('services');
    });

    it('reports an unreachable endpoint clearly', async () => {
      const err = await failure(registry.register({ uri: 'http://127.0.0.1:1' }));

      expect(err.httpStatus).toBe(400);
      expect(err.restateCode).toBe('META0003');
      expect(err.message).toMatch(/^Cannot reach http:\/\/127\.0\.0\.1:1 to run discovery: .*ECONNREFUSED/);
    });

    it.each([
      { case: 'an ftp uri', req: { uri: 'ftp://h/x' }, message: /only http:\/\/ and https:\/\// },
      { case: 'garbage uri', req: { uri: 'not a uri' }, message: /Invalid uri/ },
      { case: 'a bad ARN', req: { arn: 'arn:aws:s3:::bucket' }, message: /Invalid Lambda ARN/ },
      { case: 'both uri and arn', req: { uri: 'http://h', arn: TEST_ARN }, message: /exactly one of/ },
      { case: 'neither', req: {}, message: /exactly one of/ },
      { case: 'a non-boolean force', req: { uri: 'http://h', force: 'yes' }, message: /"force" must be a boolean/ },
      { case: 'bad headers', req: { uri: 'http://h', additional_headers: { 'bad name': 'x' } }, message: /Invalid header name/ },
    ])('rejects $case with a 400', async ({ req, message }) => {
      const err = await failure(registry.register(req as never));

      expect(err.httpStatus).toBe(400);
      expect(err.message).toMatch(message);
    });

    it('writes nothing on a dry run', async () => {
      const result = await registry.register({ uri: h2c.uri, dry_run: true });

      expect(result).toMatchObject({
        dryRun: true,
        services: [
          { name: 'greeter', revision: 1 },
          { name: 'counter', revision: 1 },
        ],
      });
      expect(await registry.listServices()).toEqual([]);
    });
  });

  describe('re-registration', () => {
    it('bumps every revision when the same address registers again with force', async () => {
      await registry.register({ uri: h2c.uri });

      const again = await registry.register({ uri: `${h2c.uri}/`, force: true });

      expect(again.services.map((s) => [s.name, s.revision])).toEqual([
        ['greeter', 2],
        ['counter', 2],
      ]);
      expect(await registry.listEndpoints()).toHaveLength(1);
      expect((await registry.getEndpoint(again.id)).services).toEqual({ greeter: 2, counter: 2 });
      expect(again.warnings).toEqual([expect.stringMatching(/replaced in place/)]);
    });

    it.each([
      { case: 'force: false', force: false },
      { case: 'no force (the default)', force: undefined },
    ])('refuses the same address with $case (409)', async ({ force }) => {
      await registry.register({ uri: h2c.uri });

      const err = await failure(registry.register({ uri: h2c.uri, force }));

      expect(err).toBeInstanceOf(ConflictError);
      expect(err.httpStatus).toBe(409);
      expect(err.restateCode).toBe('META0004');
      expect(err.message).toMatch(/immutable/);
    });

    it('keeps the public flag across re-registration', async () => {
      await registry.register({ uri: h2c.uri });
      await registry.setPublic('counter', false);

      const again = await registry.register({ uri: h2c.uri, force: true });

      expect(again.services.find((s) => s.name === 'counter')).toMatchObject({ public: false, revision: 2 });
      expect(again.services.find((s) => s.name === 'greeter')).toMatchObject({ public: true });
    });

    it('removes services the replaced endpoint no longer announces', async () => {
      const bytes = descriptorSetBytes(handBuiltFile({ serviceType: 0, service: 'A' }), handBuiltFile({ serviceType: 0, pkg: 'other', service: 'B' }));
      const uri = announcing('http://shrinks.test:9080', bytes, ['ext.example.A', 'other.B']);
      await registry.register({ uri });

      announcing(uri, bytes, ['ext.example.A']);
      const again = await registry.register({ uri, force: true });

      expect(again.services.map((s) => s.name)).toEqual(['ext.example.A']);
      expect((await registry.listServices()).map((s) => s.name)).toEqual(['ext.example.A']);
      await expect(registry.getService('other.B')).rejects.toThrow(NotFoundError);
    });

    it('moves new calls of a service to a deployment at another address; the old one keeps serving its revision', async () => {
      const bytes = descriptorSetBytes(handBuiltFile({ serviceType: 1 }));
      const first = await registry.register({ uri: announcing('http://a.test:9080', bytes, ['ext.example.Store']) });

      const second = await registry.register({ uri: announcing('http://b.test:9080', bytes, ['ext.example.Store']) });

      expect(second.services[0]).toMatchObject({ endpoint_id: second.id, revision: 2 });
      expect(second.warnings).toEqual([]);
      expect(await registry.getEndpoint(first.id)).toMatchObject({ services: { 'ext.example.Store': 1 }, latest: [] });
      expect(await registry.getEndpoint(second.id)).toMatchObject({ services: { 'ext.example.Store': 2 }, latest: ['ext.example.Store'] });
    });

    it.each([
      {
        case: 'an instance type change',
        first: handBuiltFile({ serviceType: 1 }),
        next: handBuiltFile({ serviceType: 0 }),
        message: /service 'ext.example.Store' changes its instance type from Keyed to Unkeyed/,
      },
      {
        case: 'a Singleton becoming Keyed',
        first: handBuiltFile({ serviceType: 2 }),
        next: handBuiltFile({ serviceType: 1 }),
        message: /from Singleton to Keyed/,
      },
      {
        case: "a method's input type change",
        first: handBuiltFile({ serviceType: 0 }),
        next: withInputMessage(handBuiltFile({ serviceType: 0 }), 'Other'),
        message: /method 'ext.example.Store\/Put' changes its input type from ext.example.Req to ext.example.Other; method 'ext.example.Store\/Get' changes/,
      },
    ])('refuses $case without force (409, naming it), allows it with force', async ({ first, next, message }) => {
      await registry.register({ uri: announcing('http://a.test:9080', descriptorSetBytes(first), ['ext.example.Store']) });
      const uri = announcing('http://b.test:9080', descriptorSetBytes(next), ['ext.example.Store']);

      const err = await failure(registry.register({ uri }));
      const forced = await registry.register({ uri, force: true });

      expect(err).toBeInstanceOf(IncompatibleChangeError);
      expect(err.httpStatus).toBe(409);
      expect(err.restateCode).toBe('META0006');
      expect(err.message).toMatch(message);
      expect(forced.services[0]!.revision).toBe(2);
    });

    it('accepts a dropped method without force, with a warning', async () => {
      const first = await registry.register({
        uri: announcing('http://a.test:9080', descriptorSetBytes(handBuiltFile({ serviceType: 1 })), ['ext.example.Store']),
      });

      const second = await registry.register({
        uri: announcing('http://b.test:9080', descriptorSetBytes(handBuiltFile({ serviceType: 1, methods: ['Put', 'Scan'] })), ['ext.example.Store']),
      });

      expect(second.services[0]!.methods.map((m) => m.name)).toEqual(['Put', 'Scan']);
      expect(second.warnings).toEqual([
        `Service 'ext.example.Store' no longer has method Get: new calls answer 404; invocations pinned to deployment '${first.id}' still finish there`,
      ]);
    });

    it('loses no catalogue entry when endpoints register concurrently', async () => {
      const uris = Array.from({ length: 5 }, (_, i) =>
        announcing(`http://c${i}.test:9080`, descriptorSetBytes(handBuiltFile({ serviceType: 0, pkg: `pkg${i}` })), [`pkg${i}.Store`]),
      );

      await Promise.all(uris.map((uri) => registry.register({ uri })));

      expect((await registry.listServices()).map((s) => s.name)).toEqual(['pkg0.Store', 'pkg1.Store', 'pkg2.Store', 'pkg3.Store', 'pkg4.Store']);
      expect(await registry.listEndpoints()).toHaveLength(5);
    });
  });

  describe('setPublic', () => {
    it('flips the flag and keeps the revision', async () => {
      await registry.register({ uri: h2c.uri });

      const updated = await registry.setPublic('greeter', false);

      expect(updated).toMatchObject({ name: 'greeter', public: false, revision: 1 });
      expect(await registry.getService('greeter')).toEqual(updated);
      expect(await registry.setPublic('greeter', true)).toMatchObject({ public: true });
    });

    it.each([
      { case: 'a built-in service', name: 'dev.restate.Ingress', type: PermissionDeniedError, status: 403 },
      { case: 'an unknown service', name: 'nope', type: NotFoundError, status: 404 },
    ])('refuses $case', async ({ name, type, status }) => {
      const err = await failure(registry.setPublic(name, false));

      expect(err).toBeInstanceOf(type);
      expect(err.httpStatus).toBe(status);
    });
  });

  describe('deleteEndpoint', () => {
    it('removes the endpoint and its services', async () => {
      const { id } = await registry.register({ uri: h2c.uri });
      await registry.register({ arn: TEST_ARN });

      await registry.deleteEndpoint(id);

      expect((await registry.listServices()).map((s) => s.name)).toEqual(['test.TestGreeter']);
      expect((await registry.listEndpoints()).map((e) => e.id)).toEqual([b64url(TEST_ARN)]);
      await expect(registry.getEndpoint(id)).rejects.toThrow(NotFoundError);
      await expect(registry.deleteEndpoint(id)).rejects.toThrow(NotFoundError);
    });
  });

  describe('descriptors', () => {
    it('stores the repaired set inline and serves per-service descriptors', async () => {
      const { id } = await registry.register({ uri: h2c.uri });

      const stored = await store.getEndpoint(id);
      const perService = await registry.serviceDescriptors('counter');

      expect(stored!.descriptorSet.byteLength).toBeLessThan(DESCRIPTOR_CHUNK_BYTES);
      expect(perService.byteLength).toBeGreaterThan(0);
      // The stored set, with the defaults the SDK's encoder dropped put back for clients.
      const expected = fromBinary(FileDescriptorSetSchema, stored!.descriptorSet);
      expected.file.forEach(restoreDefaults);
      expect(fromBinary(FileDescriptorSetSchema, await registry.endpointDescriptors(id))).toEqual(expected);
    });

    it('chunks a descriptor set larger than 350 KB and deletes old chunks on replacement', async () => {
      const big = descriptorSetBytes(handBuiltFile({ serviceType: 0, fillerMessages: 700 }));
      expect(big.byteLength).toBeGreaterThan(DESCRIPTOR_CHUNK_BYTES);
      const uri = announcing('http://big.test:9080', big, ['ext.example.Store']);

      const { id } = await registry.register({ uri });

      const chunks = await chunkItems(tables, id);
      expect(chunks.length).toBe(Math.ceil(big.byteLength / DESCRIPTOR_CHUNK_BYTES));
      const stored = await store.getEndpoint(id);
      expect((await registry.getService('ext.example.Store')).instance_type).toBe('Unkeyed');
      expect(stored!.descriptorSet.byteLength).toBeGreaterThan(DESCRIPTOR_CHUNK_BYTES);

      const bigger = descriptorSetBytes(handBuiltFile({ serviceType: 0, fillerMessages: 800 }));
      announcing(uri, bigger, ['ext.example.Store']);
      await registry.register({ uri, force: true });
      const after = await chunkItems(tables, id);
      expect(after.length).toBe(Math.ceil(bigger.byteLength / DESCRIPTOR_CHUNK_BYTES));
      expect(after.every((sk) => !chunks.includes(sk))).toBe(true);

      await registry.deleteEndpoint(id);
      expect(await chunkItems(tables, id)).toEqual([]);
    });
  });
});

/** The file with its request message renamed, so every method takes another input type. */
function withInputMessage(file: FileDescriptorProto, name: string): FileDescriptorProto {
  file.messageType[0]!.name = name;
  for (const method of file.service[0]!.method) method.inputType = `.${file.package}.${name}`;
  return file;
}

async function chunkItems(tables: TableClients, id: string): Promise<string[]> {
  const out = await tables.doc.send(
    new QueryCommand({
      TableName: tables.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :desc)',
      ExpressionAttributeValues: { ':pk': keys.endpoint(id).pk, ':desc': 'desc#' },
    }),
  );
  return (out.Items ?? []).map((i) => i.sk as string);
}
