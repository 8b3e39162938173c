import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fromJson, toBinary } from '@bufbuild/protobuf';
import * as restate from '@restatedev/restate-sdk';
import { createAdminHandler } from '../../lib/admin/admin-api.js';
import { H2cSessionPool } from '../../lib/endpoint/h2c.js';
import { createTransport } from '../../lib/endpoint/transport.js';
import type { EndpointAddress } from '../../lib/endpoint/types.js';
import type { HttpHandler, HttpRequest, HttpResponse } from '../../lib/http/types.js';
import { DeploymentInUseError, IncompatibleChangeError } from '../../lib/registry/deployments.js';
import { RegistryStore } from '../../lib/registry/registry-store.js';
import { Registry } from '../../lib/registry/registry.js';
import { RegistryResolver } from '../../lib/registry/resolver.js';
import type { PinnedInvocations, ResolvedService } from '../../lib/registry/types.js';
import type { TableClients } from '../../lib/store/table.js';
import { freshTable } from '../support/ddb.js';
import { counter, frameTypes, invocationBody, lambdaEndpoint, startH2cEndpoint, testGreeterEndpoint, type H2cEndpoint } from './support.js';

/** v1 and v2 of the same services, as two real SDK 0.8.1 endpoints at different addresses. */
const greeterV1 = restate.router({
  greet: async (_ctx: restate.Context, req: { name?: string }) => `v1 Hello ${req?.name ?? ''}`,
  legacy: async (_ctx: restate.Context, req: { name?: string }) => `v1 legacy ${req?.name ?? ''}`,
});
const greeterV2 = restate.router({
  greet: async (_ctx: restate.Context, req: { name?: string }) => `v2 Hello ${req?.name ?? ''}`,
  hello: async (_ctx: restate.Context, req: { name?: string }) => `v2 hello ${req?.name ?? ''}`,
});
/** counter, no longer keyed. */
const unkeyedCounter = restate.router({ add: async () => 0, get: async () => 0 });

const v1Endpoint = () => restate.endpoint().bindRouter('greeter', greeterV1).bindKeyedRouter('counter', counter);
const v2Endpoint = () => restate.endpoint().bindRouter('greeter', greeterV2);
const unkeyedEndpoint = () => restate.endpoint().bindRouter('counter', unkeyedCounter);

const RESTATE = { 'content-type': 'application/restate', accept: 'application/restate' };
const FUNCTION = 'arn:aws:lambda:eu-west-1:123456789012:function:greeter';

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

function request(method: string, pathAndQuery: string, body?: unknown): HttpRequest {
  const url = new URL(pathAndQuery, 'http://admin.test');
  const bytes = body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body));
  return { method, path: url.pathname, query: url.searchParams, headers: new Headers({ 'content-type': 'application/json' }), body: bytes };
}

function json(res: HttpResponse): Record<string, unknown> {
  return JSON.parse(Buffer.from(res.body).toString('utf8')) as Record<string, unknown>;
}

describe('deployments', () => {
  let v1: H2cEndpoint;
  let v2: H2cEndpoint;
  let unkeyed: H2cEndpoint;
  let tables: TableClients;
  let store: RegistryStore;
  let registry: Registry;
  let resolver: RegistryResolver;
  let clock: number;
  const pool = new H2cSessionPool();
  const lambda = lambdaEndpoint(testGreeterEndpoint());

  /** Runs `service/method` with input `{request: {name}}` where `resolved` says, and answers the raw response. */
  const invoke = async (resolved: ResolvedService, method: string, name: string) => {
    const m = resolved.methods.get(method)!;
    const transport = createTransport(resolved.endpoint.address, { h2Pool: pool });
    const res = await transport.call({
      path: `/invoke/${resolved.meta.name}/${method}`,
      headers: RESTATE,
      body: invocationBody(toBinary(m.input, fromJson(m.input, { request: { name } }))),
    });
    return { types: frameTypes(res.body), text: Buffer.from(res.body).toString('latin1') };
  };

  beforeAll(async () => {
    [v1, v2, unkeyed] = await Promise.all([startH2cEndpoint(v1Endpoint()), startH2cEndpoint(v2Endpoint()), startH2cEndpoint(unkeyedEndpoint())]);
  });
  afterAll(async () => {
    await pool.close();
    await Promise.all([v1.close(), v2.close(), unkeyed.close()]);
  });
  beforeEach(async () => {
    tables = await freshTable('deployments');
    store = new RegistryStore(tables);
    registry = new Registry({
      store,
      discovery: { attempts: 1 },
      transportFor: (address: EndpointAddress) => createTransport(address, { lambda: lambda.client, h2Pool: pool }),
    });
    clock = 1_000_000;
    resolver = new RegistryResolver(store, { ttlMs: 5000, deploymentTtlMs: 60_000, now: () => clock });
  });

  describe('registering v2 at a new address', () => {
    it('keeps v1 stored and resolvable by id, while new resolution goes to v2', async () => {
      const first = await registry.register({ uri: v1.uri });

      const second = await registry.register({ uri: v2.uri });

      expect(second.id).not.toBe(first.id);
      expect(second.services).toEqual([expect.objectContaining({ name: 'greeter', endpoint_id: second.id, revision: 2 })]);
      expect(await registry.getEndpoint(first.id)).toMatchObject({ services: { greeter: 1, counter: 1 }, latest: ['counter'] });
      const latest = await resolver.resolve('greeter');
      const pinned = await resolver.resolveDeployment(first.id, 'greeter');
      expect(latest).toMatchObject({ meta: { endpoint_id: second.id, revision: 2 }, endpoint: { address: { uri: v2.uri } } });
      expect(pinned).toMatchObject({ meta: { endpoint_id: first.id, revision: 1, public: false }, endpoint: { id: first.id, address: { uri: v1.uri } } });
      expect((await invoke(latest!, 'greet', 'Ada')).text).toContain('v2 Hello Ada');
      expect((await invoke(pinned!, 'greet', 'Ada')).text).toContain('v1 Hello Ada');
      expect((await resolver.resolve('counter'))!.endpoint.id).toBe(first.id);
    });

    it('drops a method for new calls (resolve) but keeps it on v1 (resolveDeployment), which runs it', async () => {
      const first = await registry.register({ uri: v1.uri });

      const second = await registry.register({ uri: v2.uri });

      expect(second.warnings).toEqual([
        expect.stringMatching(
          new RegExp(`no longer has method legacy: new calls answer 404; invocations pinned to deployment '${first.id}' still finish there`),
        ),
      ]);
      const latest = await resolver.resolve('greeter');
      const pinned = await resolver.resolveDeployment(first.id, 'greeter');
      expect([...latest!.methods.keys()]).toEqual(['greet', 'hello']);
      expect([...pinned!.methods.keys()]).toEqual(['greet', 'legacy']);
      const ran = await invoke(pinned!, 'legacy', 'Bob');
      expect(ran.types).toEqual([0x0401, 0x0005]); // Output, End
      expect(ran.text).toContain('v1 legacy Bob');
      expect(v1.paths.at(-1)).toBe('/invoke/greeter/legacy');
    });

    it('answers undefined for a service the deployment does not serve, and for an unknown or deleted deployment', async () => {
      const first = await registry.register({ uri: v1.uri });
      const second = await registry.register({ uri: v2.uri });

      expect(await resolver.resolveDeployment(second.id, 'counter')).toBeUndefined();
      expect(await resolver.resolveDeployment('nope', 'greeter')).toBeUndefined();
      await registry.deleteEndpoint(first.id);
      expect(await resolver.resolveDeployment(first.id, 'greeter')).toBeUndefined();
      expect((await resolver.resolve('greeter'))!.endpoint.id).toBe(second.id);
    });

    it('refuses keyed → unkeyed with a 409 naming the change, and accepts it with force', async () => {
      const first = await registry.register({ uri: v1.uri });

      const err = await registry.register({ uri: unkeyed.uri }).catch((e: unknown) => e);
      const forced = await registry.register({ uri: unkeyed.uri, force: true });

      expect(err).toBeInstanceOf(IncompatibleChangeError);
      expect((err as IncompatibleChangeError).httpStatus).toBe(409);
      expect((err as IncompatibleChangeError).restateCode).toBe('META0006');
      expect((err as Error).message).toMatch(/service 'counter' changes its instance type from Keyed to Unkeyed/);
      expect(forced.services[0]).toMatchObject({ name: 'counter', instance_type: 'Unkeyed', revision: 2 });
      expect((await resolver.resolve('counter'))!.meta.instance_type).toBe('Unkeyed');
      expect((await resolver.resolveDeployment(first.id, 'counter'))!.meta.instance_type).toBe('Keyed');
    });
  });

  describe('RegistryResolver.resolveDeployment caching', () => {
    it('reuses what resolve() loaded: no DynamoDB call for the current deployment', async () => {
      const { id } = await registry.register({ uri: v1.uri });
      const calls = countCalls(tables);
      await resolver.resolve('greeter');
      calls.reset();

      const pinned = await resolver.resolveDeployment(id, 'greeter');

      expect(pinned!.endpoint.id).toBe(id);
      expect(calls.count()).toBe(0);
      expect(await resolver.resolveDeployment(id, 'greeter')).toBe(pinned);
    });

    it('trusts a deployment longer than a service entry, and shares its load with resolve()', async () => {
      const first = await registry.register({ uri: v1.uri });
      const calls = countCalls(tables);

      await resolver.resolveDeployment(first.id, 'greeter');
      expect(calls.count()).toBe(1); // one (consistent) GetItem of the deployment
      await resolver.resolve('counter');
      expect(calls.count()).toBe(2); // the service item only: the deployment is cached
      clock += 30_000;
      calls.reset();

      await resolver.resolve('counter');
      await resolver.resolveDeployment(first.id, 'counter');
      expect(calls.count()).toBe(1); // the service entry expired, the deployment did not

      clock += 30_001;
      calls.reset();
      await resolver.resolveDeployment(first.id, 'greeter');
      expect(calls.count()).toBe(1);
    });

    it('does not remember a missing deployment', async () => {
      expect(await resolver.resolveDeployment('late', 'greeter')).toBeUndefined();
      const { id } = await registry.register({ uri: v1.uri });

      expect((await resolver.resolveDeployment(id, 'greeter'))!.endpoint.id).toBe(id);
    });
  });

  describe('Lambda deployments', () => {
    it.each([
      { $case: 'an unqualified ARN', arn: FUNCTION, warning: /is unqualified: it runs \$LATEST/ },
      { $case: '$LATEST', arn: `${FUNCTION}:$LATEST`, warning: /runs \$LATEST, whose code can change under invocations pinned/ },
      { $case: 'an alias', arn: `${FUNCTION}:live`, warning: /names an alias/ },
    ])('accepts $case with a warning', async ({ arn, warning }) => {
      const result = await registry.register({ arn });

      expect(result.services.map((s) => s.name)).toEqual(['test.TestGreeter']);
      expect(result.warnings).toEqual([expect.stringMatching(warning)]);
      expect(result.warnings[0]).toContain('register a published version');
    });

    it('accepts a published version without warnings; each version is its own deployment with its own role and region', async () => {
      const v7 = await registry.register({ arn: `${FUNCTION}:7`, assume_role_arn: 'arn:aws:iam::123456789012:role/seven' });
      const v8 = await registry.register({
        arn: `arn:aws:lambda:us-east-2:123456789012:function:greeter:8`,
        assume_role_arn: 'arn:aws:iam::123456789012:role/eight',
      });

      expect(v7.warnings).toEqual([]);
      expect(v8.warnings).toEqual([]);
      expect(v8.id).not.toBe(v7.id);
      expect((await resolver.resolveDeployment(v7.id, 'test.TestGreeter'))!.endpoint.address).toEqual({
        kind: 'lambda',
        arn: `${FUNCTION}:7`,
        assumeRoleArn: 'arn:aws:iam::123456789012:role/seven',
        additionalHeaders: {},
      });
      expect((await resolver.resolve('test.TestGreeter'))!.endpoint.address).toMatchObject({
        arn: 'arn:aws:lambda:us-east-2:123456789012:function:greeter:8',
        assumeRoleArn: 'arn:aws:iam::123456789012:role/eight',
      });
    });
  });

  describe('admin API', () => {
    let handler: HttpHandler;
    const counts = new Map<string, number>();
    const pinned: PinnedInvocations = { countPinned: vi.fn(async (id: string) => counts.get(id) ?? 0) };

    beforeEach(() => {
      counts.clear();
      handler = createAdminHandler({ registry, pinned, onChange: () => resolver.invalidate() });
    });

    const post = async (body: unknown) => {
      const res = await handler(request('POST', '/deployments', body));
      return { status: res.status, body: json(res) };
    };

    it('lists every deployment with its services, which are latest, and pinned_invocations', async () => {
      const first = (await post({ uri: v1.uri })).body.id as string;
      const second = (await post({ uri: v2.uri })).body.id as string;
      counts.set(first, 3);

      const list = json(await handler(request('GET', '/endpoints')));
      const one = json(await handler(request('GET', `/deployments/${first}`)));

      const byId = new Map((list.endpoints as { id: string }[]).map((e) => [e.id, e]));
      expect(byId.get(first)).toMatchObject({
        uri: v1.uri,
        services: [
          { name: 'counter', revision: 1, latest: true },
          { name: 'greeter', revision: 1, latest: false },
        ],
        pinned_invocations: 3,
      });
      expect(byId.get(second)).toMatchObject({ uri: v2.uri, services: [{ name: 'greeter', revision: 2, latest: true }], pinned_invocations: 0 });
      expect(one).toMatchObject({ id: first, pinned_invocations: 3 });
    });

    it('leaves pinned_invocations out when nothing can count them', async () => {
      const plain = createAdminHandler({ registry });
      await plain(request('POST', '/endpoints', { uri: v1.uri }));

      const list = json(await plain(request('GET', '/endpoints')));

      expect((list.endpoints as object[])[0]).not.toHaveProperty('pinned_invocations');
    });

    it('answers 201 with the dropped-method warning, and 409 naming an incompatible change', async () => {
      await post({ uri: v1.uri });

      const v2Registered = await post({ uri: v2.uri });
      const refused = await post({ uri: unkeyed.uri });

      expect(v2Registered.status).toBe(201);
      expect(v2Registered.body.warnings).toEqual([expect.stringMatching(/'greeter' no longer has method legacy/)]);
      expect(refused.status).toBe(409);
      expect(refused.body).toEqual({
        message: expect.stringMatching(/'counter' changes its instance type from Keyed to Unkeyed.*"force": true/),
        restate_code: 'META0006',
      });
    });

    it('warns on an unqualified Lambda ARN', async () => {
      const res = await post({ arn: FUNCTION });

      expect(res.status).toBe(201);
      expect(res.body.warnings).toEqual([expect.stringMatching(/unqualified/)]);
    });

    it('warns how many pinned invocations an in-place replacement affects', async () => {
      const id = (await post({ uri: v1.uri })).body.id as string;
      counts.set(id, 2);

      const same = await post({ uri: v1.uri });
      const replaced = await post({ uri: v1.uri, force: true });

      expect(same).toMatchObject({ status: 409, body: { restate_code: 'META0004' } });
      expect(replaced.status).toBe(201);
      expect(replaced.body.warnings).toEqual([expect.stringMatching(/replaced in place/), `2 unfinished invocations are pinned to deployment '${id}'`]);
    });

    it('refuses DELETE with 409 and the count while invocations are pinned, deletes at 0', async () => {
      const first = (await post({ uri: v1.uri })).body.id as string;
      await post({ uri: v2.uri });
      counts.set(first, 2);

      const refused = await handler(request('DELETE', `/endpoints/${first}`));
      const stillThere = await handler(request('GET', `/endpoints/${first}`));
      counts.set(first, 0);
      const deleted = await handler(request('DELETE', `/endpoints/${first}`));

      expect(refused.status).toBe(409);
      expect(json(refused)).toEqual({
        message: expect.stringMatching(new RegExp(`^Deployment '${first}' has 2 unfinished invocations pinned to it.*\\?force=true$`)),
        restate_code: null,
        pinned_invocations: 2,
      });
      expect(stillThere.status).toBe(200);
      expect(deleted.status).toBe(202);
      expect(json(deleted)).toEqual({ id: first, unavailable_services: ['counter'], pinned_invocations: 0 });
      expect((await handler(request('GET', '/services/counter'))).status).toBe(404);
      expect(json(await handler(request('GET', '/services/greeter')))).toMatchObject({ revision: 2 });
      expect(await resolver.resolve('counter')).toBeUndefined();
    });

    it('deletes a deployment in use with ?force=true and reports the count', async () => {
      const first = (await post({ uri: v1.uri })).body.id as string;
      const second = (await post({ uri: v2.uri })).body.id as string;
      counts.set(second, 1);

      const deleted = await handler(request('DELETE', `/deployments/${second}?force=true`));

      expect(deleted.status).toBe(202);
      // v2 served the latest greeter: gone for new calls, though v1 still serves revision 1.
      expect(json(deleted)).toEqual({ id: second, unavailable_services: ['greeter'], pinned_invocations: 1 });
      expect((await handler(request('GET', '/services/greeter'))).status).toBe(404);
      expect(await resolver.resolve('greeter')).toBeUndefined();
      expect((await resolver.resolveDeployment(first, 'greeter'))!.endpoint.address).toMatchObject({ uri: v1.uri });
      expect(await resolver.resolveDeployment(second, 'greeter')).toBeUndefined();
    });

    it('documents the deployment fields and answers in /openapi', async () => {
      const doc = json(await handler(request('GET', '/openapi'))) as {
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
        components: { schemas: Record<string, { properties: Record<string, { default?: unknown }> }> };
      };

      expect(Object.keys(doc.paths['/deployments/{id}']!.delete!.responses)).toEqual(expect.arrayContaining(['202', '404', '409']));
      expect(doc.paths['/endpoints/{id}']!.delete!.responses).not.toHaveProperty('501');
      expect(doc.components.schemas.Endpoint!.properties).toHaveProperty('pinned_invocations');
      expect(doc.components.schemas.RegisterEndpointResponse!.properties).toHaveProperty('warnings');
      expect(doc.components.schemas.DeleteEndpointResponse!.properties).toHaveProperty('unavailable_services');
      expect(doc.components.schemas.RegisterEndpointRequest!.properties.force!.default).toBe(false);
    });

    it('the registry refuses the same way without the admin API', async () => {
      const { id } = await registry.register({ uri: v1.uri });
      counts.set(id, 5);

      const err = await registry.deleteEndpoint(id, { pinned }).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(DeploymentInUseError);
      expect((err as DeploymentInUseError).pinned).toBe(5);
      expect((await registry.getEndpoint(id)).id).toBe(id);
    });
  });
});
