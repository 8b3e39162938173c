import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fromJson, toJson } from '@bufbuild/protobuf';
import { H2cSessionPool } from '../../lib/endpoint/h2c.js';
import { createTransport } from '../../lib/endpoint/transport.js';
import type { EndpointAddress, EndpointTransport } from '../../lib/endpoint/types.js';
import { RegistryStore } from '../../lib/registry/registry-store.js';
import { Registry } from '../../lib/registry/registry.js';
import { RegistryResolver } from '../../lib/registry/resolver.js';
import type { TableClients } from '../../lib/store/table.js';
import { freshTable } from '../support/ddb.js';
import {
  descriptorSetBytes,
  discoveryAnswer,
  fakeTransport,
  handBuiltFile,
  lambdaEndpoint,
  routerEndpoint,
  startH2cEndpoint,
  TEST_ARN,
  testGreeterEndpoint,
  type H2cEndpoint,
} from './support.js';

/** Counts DynamoDB round trips by wrapping the document client's send. */
function countCalls(tables: TableClients): { count: () => number; reset: () => void } {
  let calls = 0;
  const send = tables.doc.send.bind(tables.doc) as (...args: unknown[]) => Promise<unknown>;
  (tables.doc as unknown as { send: (...args: unknown[]) => Promise<unknown> }).send = (...args: unknown[]) => {
    calls++;
    return send(...args);
  };
  return { count: () => calls, reset: () => (calls = 0) };
}

describe('RegistryResolver', () => {
  let tables: TableClients;
  let registry: Registry;
  let resolver: RegistryResolver;
  let calls: ReturnType<typeof countCalls>;
  let clock: number;
  let h2c: H2cEndpoint;
  const pool = new H2cSessionPool();
  const lambda = lambdaEndpoint(testGreeterEndpoint());
  const fakes = new Map<string, EndpointTransport>();

  beforeAll(async () => {
    h2c = await startH2cEndpoint(routerEndpoint());
  });
  afterAll(async () => {
    await pool.close();
    await h2c.close();
  });
  beforeEach(async () => {
    tables = await freshTable('resolver');
    const store = new RegistryStore(tables);
    registry = new Registry({
      store,
      discovery: { attempts: 1 },
      transportFor: (address: EndpointAddress) =>
        (address.kind === 'http' ? fakes.get(address.uri) : undefined) ?? createTransport(address, { lambda: lambda.client, h2Pool: pool }),
    });
    await registry.register({ uri: h2c.uri });
    clock = 1_000_000;
    resolver = new RegistryResolver(store, { ttlMs: 5000, now: () => clock });
    calls = countCalls(tables);
  });

  it('resolves a keyed router service, ready to transcode and extract keys', async () => {
    const counter = await resolver.resolve('counter');

    expect(counter!.meta).toMatchObject({ name: 'counter', instance_type: 'Keyed', revision: 1, public: true });
    expect(counter!.endpoint).toMatchObject({
      address: { kind: 'http', uri: h2c.uri },
      protocolType: 'BidiStream',
      services: [
        { name: 'counter', revision: 1 },
        { name: 'greeter', revision: 1 },
      ],
    });
    const add = counter!.methods.get('add')!;
    expect(add.keyField!.number).toBe(1);
    expect(toJson(add.input, fromJson(add.input, { key: 'k', request: { a: 1 } }))).toEqual({ key: 'k', request: { a: 1 } });
    expect(counter!.registry.getMessage('RpcResponse')).toBe(add.output);
  });

  it('makes no DynamoDB call on a warm hit', async () => {
    await resolver.resolve('greeter');
    expect(calls.count()).toBe(2); // service item + endpoint item

    calls.reset();
    const again = await resolver.resolve('greeter');

    expect(again!.meta.name).toBe('greeter');
    expect(calls.count()).toBe(0);
  });

  it('reads only the service item for a second service of a cached endpoint', async () => {
    await resolver.resolve('greeter');
    calls.reset();

    await resolver.resolve('counter');

    expect(calls.count()).toBe(1);
  });

  it('shares one load between concurrent cold resolves', async () => {
    await Promise.all([resolver.resolve('greeter'), resolver.resolve('greeter'), resolver.resolve('greeter')]);

    expect(calls.count()).toBe(2);
  });

  it('refreshes after the TTL and sees a re-registration', async () => {
    await resolver.resolve('greeter');
    await registry.register({ uri: h2c.uri, force: true });
    calls.reset();

    clock += 4999;
    expect((await resolver.resolve('greeter'))!.meta.revision).toBe(1);
    expect(calls.count()).toBe(0);

    clock += 2;
    expect((await resolver.resolve('greeter'))!.meta.revision).toBe(2);
    expect(calls.count()).toBe(2); // new generation: the endpoint item is read again
  });

  it('looks an unknown name up at once every time (no negative caching)', async () => {
    expect(await resolver.resolve('late')).toBeUndefined();
    expect(calls.count()).toBe(1);

    fakes.set(
      'http://late.test:9080',
      fakeTransport(discoveryAnswer({ files: descriptorSetBytes(handBuiltFile({ serviceType: 2, pkg: 'x' })), services: ['x.Store'] })),
    );
    await registry.register({ uri: 'http://late.test:9080' });

    expect((await resolver.resolve('x.Store'))!.meta.instance_type).toBe('Singleton');
  });

  it('drops cached entries on invalidate()', async () => {
    await resolver.resolve('greeter');
    await registry.setPublic('greeter', false);
    calls.reset();

    resolver.invalidate('greeter');
    const fresh = await resolver.resolve('greeter');

    expect(fresh!.meta.public).toBe(false);
    expect(calls.count()).toBe(1); // the endpoint registration is unchanged, still cached
  });

  it('resolves a Lambda endpoint service and one whose descriptor is chunked', async () => {
    await registry.register({ arn: TEST_ARN });
    fakes.set(
      'http://big.test:9080',
      fakeTransport(discoveryAnswer({ files: descriptorSetBytes(handBuiltFile({ serviceType: 1, fillerMessages: 700 })), services: ['ext.example.Store'] })),
    );
    await registry.register({ uri: 'http://big.test:9080' });

    const greeter = await resolver.resolve('test.TestGreeter');
    const big = await resolver.resolve('ext.example.Store');

    expect(greeter!.endpoint.address).toEqual({ kind: 'lambda', arn: TEST_ARN, additionalHeaders: {} });
    expect(greeter!.methods.get('Greet')!.keyField!.name).toBe('name');
    expect(big!.methods.get('Put')!.keyField!.name).toBe('id');
    expect(big!.registry.getMessage('ext.example.Filler699')).toBeDefined();
  });

  it('lists services from the catalogue and caches the list', async () => {
    const first = await resolver.list();
    calls.reset();
    const second = await resolver.list();

    expect(first.map((s) => s.name)).toEqual(['counter', 'greeter']);
    expect(second).toBe(first);
    expect(calls.count()).toBe(0);
  });
});
