import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { createAdminHandler } from '../../lib/admin/admin-api.js';
import type { InvocationAdmin } from '../../lib/admin/types.js';
import { H2cSessionPool } from '../../lib/endpoint/h2c.js';
import type { HttpHandler, HttpRequest, HttpResponse } from '../../lib/http/types.js';
import { RegistryStore } from '../../lib/registry/registry-store.js';
import { Registry } from '../../lib/registry/registry.js';
import { freshTable } from '../support/ddb.js';
import { bufCurl } from '../ingress/support.js';
import { lambdaEndpoint, routerEndpoint, startH2cEndpoint, TEST_ARN, testGreeterEndpoint, type H2cEndpoint } from '../registry/support.js';

function request(method: string, pathAndQuery: string, body?: unknown): HttpRequest {
  const url = new URL(pathAndQuery, 'http://admin.test');
  const bytes = body === undefined ? new Uint8Array() : new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body));
  return { method, path: url.pathname, query: url.searchParams, headers: new Headers({ 'content-type': 'application/json' }), body: bytes };
}

function json(res: HttpResponse): Record<string, unknown> {
  return JSON.parse(Buffer.from(res.body).toString('utf8')) as Record<string, unknown>;
}

const b64url = (s: string) => Buffer.from(s).toString('base64url');

describe('admin API', () => {
  let h2c: H2cEndpoint;
  let handler: HttpHandler;
  let registry: Registry;
  let h2cId: string;
  const pool = new H2cSessionPool();
  const lambda = lambdaEndpoint(testGreeterEndpoint());
  const onChange = vi.fn();

  beforeAll(async () => {
    h2c = await startH2cEndpoint(routerEndpoint());
    h2cId = b64url(`${new URL(h2c.uri).host}/`);
  });
  afterAll(async () => {
    await pool.close();
    await h2c.close();
  });
  beforeEach(async () => {
    const store = new RegistryStore(await freshTable('admin'));
    registry = new Registry({ store, discovery: { attempts: 1 }, transportDeps: { lambda: lambda.client, h2Pool: pool } });
    onChange.mockClear();
    handler = createAdminHandler({ registry, onChange });
  });

  const register = async () => {
    expect((await handler(request('POST', '/endpoints', { uri: h2c.uri }))).status).toBe(201);
    expect((await handler(request('POST', '/endpoints', { arn: TEST_ARN, additional_headers: { 'x-k': 'v' } }))).status).toBe(201);
  };

  describe('endpoints', () => {
    it('POST /endpoints registers: 201, Location, {id, services: [ServiceMetadata]}', async () => {
      const res = await handler(request('POST', '/endpoints', { uri: h2c.uri }));

      expect(res.status).toBe(201);
      expect(res.headers.location).toBe(`/endpoints/${h2cId}`);
      expect(json(res)).toEqual({
        id: h2cId,
        services: [
          {
            name: 'greeter',
            methods: [{ name: 'greet', input_type: 'RpcRequest', output_type: 'RpcResponse' }],
            instance_type: 'Unkeyed',
            endpoint_id: h2cId,
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
            endpoint_id: h2cId,
            revision: 1,
            public: true,
          },
        ],
      });
      expect(onChange).toHaveBeenCalledTimes(1);
    });

    it('GET /endpoints lists both kinds in the 0.5 shapes (plus created_at and latest)', async () => {
      await register();

      const res = await handler(request('GET', '/endpoints'));

      expect(res.status).toBe(200);
      expect(json(res)).toEqual({
        endpoints: [
          {
            id: h2cId,
            uri: h2c.uri,
            protocol_type: 'BidiStream',
            additional_headers: {},
            created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
            services: [
              { name: 'counter', revision: 1, latest: true },
              { name: 'greeter', revision: 1, latest: true },
            ],
          },
          {
            id: b64url(TEST_ARN),
            arn: TEST_ARN,
            additional_headers: { 'x-k': 'v' },
            created_at: expect.any(String),
            services: [{ name: 'test.TestGreeter', revision: 1, latest: true }],
          },
        ].sort((a, b) => (a.id < b.id ? -1 : 1)),
      });
    });

    it.each([
      { case: '/endpoints', base: '/endpoints' },
      { case: '/deployments', base: '/deployments' },
    ])('GET $case/{id} answers the endpoint, 404 for an unknown id', async ({ base }) => {
      await register();

      const found = await handler(request('GET', `${base}/${b64url(TEST_ARN)}`));
      const missing = await handler(request('GET', `${base}/nope`));

      expect(found.status).toBe(200);
      expect(json(found)).toMatchObject({ id: b64url(TEST_ARN), arn: TEST_ARN });
      expect(missing.status).toBe(404);
      expect(json(missing)).toEqual({ message: "Endpoint 'nope' not found", restate_code: null });
    });

    it('POST /deployments is an alias with its own Location', async () => {
      const res = await handler(request('POST', '/deployments', { arn: TEST_ARN }));

      expect(res.status).toBe(201);
      expect(res.headers.location).toBe(`/deployments/${b64url(TEST_ARN)}`);
      expect(json(await handler(request('GET', '/deployments')))).toMatchObject({ endpoints: [{ id: b64url(TEST_ARN) }] });
    });

    it('answers 409 with META0004 for an existing endpoint without force', async () => {
      await register();

      const res = await handler(request('POST', '/endpoints', { uri: h2c.uri, force: false }));

      expect(res.status).toBe(409);
      expect(json(res)).toMatchObject({ restate_code: 'META0004' });
    });

    it.each([
      { case: 'invalid JSON', body: '{"uri": ', message: /Invalid JSON body/ },
      { case: 'a JSON array', body: '[]', message: /must be a JSON object/ },
      { case: 'a non-http uri', body: { uri: 'ftp://x' }, message: /only http:\/\/ and https:\/\// },
      { case: 'a bad ARN', body: { arn: 'arn:nope' }, message: /Invalid Lambda ARN/ },
    ])('answers 400 to $case', async ({ body, message }) => {
      const res = await handler(request('POST', '/endpoints', body));

      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/json');
      expect(json(res).message).toMatch(message);
      expect(json(res)).toHaveProperty('restate_code');
    });

    it('answers 400 with META0003 when discovery cannot reach the endpoint', async () => {
      const res = await handler(request('POST', '/endpoints', { uri: 'http://127.0.0.1:1' }));

      expect(res.status).toBe(400);
      expect(json(res)).toMatchObject({ restate_code: 'META0003', message: expect.stringMatching(/Cannot reach/) });
    });

    it('DELETE removes a deployment: 202 naming the services that become unavailable, then 404', async () => {
      await register();

      const bad = await handler(request('DELETE', `/endpoints/${h2cId}?force=yes`));
      const deleted = await handler(request('DELETE', `/endpoints/${h2cId}`));
      const gone = await handler(request('GET', `/endpoints/${h2cId}`));
      const again = await handler(request('DELETE', `/endpoints/${h2cId}?force=true`));

      expect(bad.status).toBe(400);
      expect(deleted.status).toBe(202);
      expect(json(deleted)).toEqual({ id: h2cId, unavailable_services: ['counter', 'greeter'] });
      expect(gone.status).toBe(404);
      expect(again.status).toBe(404);
      expect(json(await handler(request('GET', '/services')))).toMatchObject({ services: [{ name: 'test.TestGreeter' }] });
      expect((await handler(request('GET', '/services/counter'))).status).toBe(404);
    });

    it('GET /endpoints/{id}/descriptors answers the FileDescriptorSet', async () => {
      await register();

      const res = await handler(request('GET', `/deployments/${h2cId}/descriptors`));

      expect(res.headers['content-type']).toBe('application/x-protobuf');
      expect(fromBinary(FileDescriptorSetSchema, res.body).file.map((f) => f.name)).toContain('proto/dynrpc.proto');
    });
  });

  describe('services', () => {
    beforeEach(register);

    it('GET /services lists ServiceMetadata by name', async () => {
      const res = await handler(request('GET', '/services'));

      expect(res.status).toBe(200);
      expect((json(res).services as { name: string }[]).map((s) => s.name)).toEqual(['counter', 'greeter', 'test.TestGreeter']);
    });

    it('GET /services/{name} answers one service (dotted names too)', async () => {
      const res = await handler(request('GET', '/services/test.TestGreeter'));

      expect(json(res)).toEqual({
        name: 'test.TestGreeter',
        methods: [{ name: 'Greet', input_type: 'test.TestRequest', output_type: 'test.TestResponse', key_field_number: 1 }],
        instance_type: 'Keyed',
        endpoint_id: b64url(TEST_ARN),
        revision: 1,
        public: true,
      });
      expect((await handler(request('GET', '/services/nope'))).status).toBe(404);
    });

    it('GET /services/{name}/methods[/{method}]', async () => {
      const all = await handler(request('GET', '/services/counter/methods'));
      const one = await handler(request('GET', '/services/counter/methods/add'));
      const missing = await handler(request('GET', '/services/counter/methods/nope'));

      expect(json(all)).toEqual({
        methods: [
          { name: 'add', input_type: 'RpcRequest', output_type: 'RpcResponse', key_field_number: 1 },
          { name: 'get', input_type: 'RpcRequest', output_type: 'RpcResponse', key_field_number: 1 },
        ],
      });
      expect(json(one)).toEqual({ name: 'add', input_type: 'RpcRequest', output_type: 'RpcResponse', key_field_number: 1 });
      expect(missing.status).toBe(404);
    });

    it('GET /services/{name}/descriptors answers the file and its imports', async () => {
      const res = await handler(request('GET', '/services/test.TestGreeter/descriptors'));

      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/x-protobuf');
      const names = fromBinary(FileDescriptorSetSchema, res.body).file.map((f) => f.name);
      expect(names.at(-1)).toBe('proto/test.proto');
      expect(names).not.toContain('proto/dynrpc.proto');
    });

    it('GET /services/{name}/descriptors and /endpoints/{id}/descriptors are a schema buf curl loads (where reflection cannot work)', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'restless-admin-'));
      const listed = [];
      for (const [file, path] of [
        ['service.binpb', '/services/counter/descriptors'],
        ['endpoint.binpb', `/endpoints/${h2cId}/descriptors`],
      ] as const) {
        await writeFile(join(dir, file), (await handler(request('GET', path))).body);
        listed.push(await bufCurl(['--schema', join(dir, file), '--list-methods', 'http://127.0.0.1:9']));
      }

      for (const res of listed) {
        expect(res.stderr).toBe('');
        expect(res.stdout.trim().split('\n')).toEqual(expect.arrayContaining(['counter/add', 'counter/get']));
      }
    });

    it('PATCH {"public": false} answers the updated metadata', async () => {
      const res = await handler(request('PATCH', '/services/greeter', { public: false }));

      expect(res.status).toBe(200);
      expect(json(res)).toMatchObject({ name: 'greeter', public: false, revision: 1 });
      expect(json(await handler(request('GET', '/services/greeter')))).toMatchObject({ public: false });
      expect(onChange).toHaveBeenCalled();
    });

    it.each([
      { case: 'a string value', body: { public: 'no' }, status: 400 },
      { case: 'an extra field', body: { public: false, name: 'x' }, status: 400 },
      { case: 'an empty object', body: {}, status: 400 },
      { case: 'invalid JSON', body: '{', status: 400 },
    ])('PATCH answers $status to $case', async ({ body, status }) => {
      const res = await handler(request('PATCH', '/services/greeter', body));

      expect(res.status).toBe(status);
      expect(json(res)).toHaveProperty('message');
    });

    it.each([
      { case: 'a built-in service', name: 'dev.restate.Ingress', status: 403 },
      { case: 'an unknown service', name: 'nope', status: 404 },
    ])('PATCH answers $status for $case', async ({ name, status }) => {
      const res = await handler(request('PATCH', `/services/${name}`, { public: false }));

      expect(res.status).toBe(status);
      expect(json(res)).toHaveProperty('restate_code');
    });
  });

  describe('invocations', () => {
    it('answers 501 without an InvocationAdmin', async () => {
      expect((await handler(request('GET', '/invocations/inv_1'))).status).toBe(501);
      expect((await handler(request('DELETE', '/invocations/inv_1'))).status).toBe(501);
    });

    it('delegates status and kill/cancel, kill by default', async () => {
      const invocations: InvocationAdmin = {
        status: vi.fn(async (id: string) => (id === 'inv_1' ? { id, status: 'invoked' } : undefined)),
        kill: vi.fn(async () => ({ status: 202 })),
      };
      const h = createAdminHandler({ registry, invocations });

      const status = await h(request('GET', '/invocations/inv_1'));
      const unknown = await h(request('GET', '/invocations/inv_2'));
      const killed = await h(request('DELETE', '/invocations/inv_1'));
      const cancelled = await h(request('DELETE', '/invocations/inv_1?mode=cancel'));
      const bad = await h(request('DELETE', '/invocations/inv_1?mode=nuke'));

      expect(json(status)).toEqual({ id: 'inv_1', status: 'invoked' });
      expect(unknown.status).toBe(404);
      expect(killed.status).toBe(202);
      expect(cancelled.status).toBe(202);
      expect(bad.status).toBe(400);
      expect(invocations.kill).toHaveBeenNthCalledWith(1, 'inv_1', 'kill');
      expect(invocations.kill).toHaveBeenNthCalledWith(2, 'inv_1', 'cancel');
    });
  });

  describe('invocation listing and the console', () => {
    it('parses the listing query and hands it over (status lists split, limit a number)', async () => {
      const list = vi.fn(async () => ({ invocations: [], next_cursor: 'c2' }));
      const h = createAdminHandler({ registry, invocations: { status: vi.fn(), kill: vi.fn(), list } });

      const res = await h(request('GET', '/invocations?status=invoked,suspended&status=delayed&service=svc&key=k%201&limit=20&cursor=c1'));

      expect(res.status).toBe(200);
      expect(json(res)).toEqual({ invocations: [], next_cursor: 'c2' });
      expect(list).toHaveBeenCalledWith({
        status: ['invoked', 'suspended', 'delayed'],
        service: 'svc',
        method: undefined,
        key: 'k 1',
        limit: 20,
        cursor: 'c1',
      });
    });

    it.each([
      { case: 'an unknown parameter (a typo must not list everything)', path: '/invocations?servce=svc', status: 400 },
      { case: 'a limit that is not a whole number', path: '/invocations?limit=ten', status: 400 },
    ])('refuses $case', async ({ path, status }) => {
      const h = createAdminHandler({ registry, invocations: { status: vi.fn(), kill: vi.fn(), list: vi.fn() } });

      expect((await h(request('GET', path))).status).toBe(status);
    });

    it('answers 501 for listing and key inspection without them', async () => {
      const h = createAdminHandler({ registry, invocations: { status: vi.fn(), kill: vi.fn() } });

      expect((await h(request('GET', '/invocations'))).status).toBe(501);
    });

    it.each([
      { case: 'the page', path: '/ui', type: 'text/html; charset=utf-8', contains: '<script src="ui/console.js">' },
      { case: 'the script', path: '/ui/console.js', type: 'text/javascript; charset=utf-8', contains: "api('GET', 'invocations?'" },
      { case: 'the style', path: '/ui/console.css', type: 'text/css; charset=utf-8', contains: 'ol.timeline' },
    ])('serves $case of the console with a same-origin CSP', async ({ path, type, contains }) => {
      const res = await handler(request('GET', path));

      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(type);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(Buffer.from(res.body).toString('utf8')).toContain(contains);
    });

    it('redirects /ui/ to /ui (the page uses relative URLs) and has nothing else under /ui', async () => {
      const slash = await handler(request('GET', '/ui/'));
      const other = await handler(request('GET', '/ui/secrets.txt'));

      expect([slash.status, slash.headers.location]).toEqual([308, '../ui']);
      expect(other.status).toBe(404);
    });
  });

  describe('routing', () => {
    it('answers /health and /openapi', async () => {
      const health = await handler(request('GET', '/health'));
      const openapi = await handler(request('GET', '/openapi'));

      expect(health.status).toBe(200);
      expect(json(openapi)).toMatchObject({ openapi: '3.0.3', paths: { '/endpoints': {}, '/services/{name}': {}, '/invocations/{id}': {} } });
    });

    it('answers 404 to an unknown route and 405 to a wrong method', async () => {
      const unknown = await handler(request('GET', '/nope'));
      const wrong = await handler(request('PUT', '/services'));

      expect(unknown.status).toBe(404);
      expect(json(unknown)).toEqual({ message: 'No route GET /nope', restate_code: null });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.allow).toBe('GET');
    });

    it('never throws: an unexpected failure becomes a 500 without details, logged', async () => {
      const logError = vi.fn();
      const broken = { listServices: async () => Promise.reject(new Error('secret database detail')) } as unknown as Registry;
      const h = createAdminHandler({ registry: broken, logError });

      const res = await h(request('GET', '/services'));

      expect(res.status).toBe(500);
      expect(json(res)).toEqual({ message: 'Internal error', restate_code: null });
      expect(logError).toHaveBeenCalledWith('admin GET /services failed', expect.objectContaining({ message: 'secret database detail' }));
    });
  });
});
