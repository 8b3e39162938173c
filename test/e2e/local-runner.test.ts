/**
 * `npm start` end to end: one real runner (bin/local.ts as a child process, DynamoDB Local, the
 * example endpoint) called with curl and fetch as a user would — the seed's curl, protobuf bodies,
 * keyed state, every ingress error row of docs/protocol.md §6.7, the admin API (§5) and invocation output.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GreetRequest, GreetResponse } from '../../examples/greeter/generated/greeter.js';
import { curl, freePorts, portIsFree, shell, startRunner, tempDataDir, type RunningRunner } from '../support/runner.js';

const INVOCATION_ID = /^inv_[A-Za-z0-9_-]{22}$/;
const JSON_CT = { 'content-type': 'application/json' };

let runner: RunningRunner;
let dataDir: Awaited<ReturnType<typeof tempDataDir>>;
/** `http://localhost:<port>`: the host name the README's curl uses. */
let ingress: string;
let admin: string;

/** fetch against the ingress; the body parsed as JSON when there is one. */
async function call(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; json: unknown }> {
  const res = await fetch(`${runner.ingressUrl}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function adminCall(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(`${runner.adminUrl}${path}`, {
    method,
    headers: body === undefined ? {} : JSON_CT,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

function postJson(path: string, body: unknown): ReturnType<typeof call> {
  return call(path, { method: 'POST', headers: JSON_CT, body: JSON.stringify(body) });
}

describe('npm start (bin/local.ts) with the example endpoint', () => {
  beforeAll(async () => {
    dataDir = await tempDataDir();
    runner = await startRunner({ ports: await freePorts(), dataDir: dataDir.path });
    ingress = `http://localhost:${runner.ports.ingress}`;
    admin = `http://localhost:${runner.ports.admin}`;
  });

  afterAll(async () => {
    runner?.kill();
    await dataDir?.remove();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(`runner output (tail):\n${runner?.tail(6000)}`));
  });

  describe('the seed example, org.example.Greeter/Greet', () => {
    it('prints exactly {"greeting":"Hello Pete"} for the seed curl command', async () => {
      // Act: the command line of the seed, verbatim, through a shell.
      const stdout = await shell(`curl -X POST ${ingress}/org.example.Greeter/Greet -H 'content-type: application/json' -d '{"name": "Pete"}'`);

      // Assess
      expect(stdout).toBe('{"greeting":"Hello Pete"}');
    });

    it('answers 200 with application/json and an x-restate-id for the seed curl', async () => {
      // Act
      const res = await curl(['-X', 'POST', `${ingress}/org.example.Greeter/Greet`, '-H', 'content-type: application/json', '-d', '{"name": "Pete"}']);

      // Assess
      expect(res.status, res.raw).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['x-restate-id']).toMatch(INVOCATION_ID);
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({ greeting: 'Hello Pete' });
    });

    it('answers application/proto bytes with a GreetResponse when given GreetRequest bytes', async () => {
      // Prepare
      const file = join(dataDir.path, 'greet-request.bin');
      await writeFile(file, GreetRequest.encode({ name: 'Pete' }).finish());

      // Act
      const res = await curl(['-X', 'POST', `${ingress}/org.example.Greeter/Greet`, '-H', 'content-type: application/proto', '--data-binary', `@${file}`]);

      // Assess
      expect(res.status, res.raw).toBe(200);
      expect(res.headers['content-type']).toBe('application/proto');
      expect(res.headers['x-restate-id']).toMatch(INVOCATION_ID);
      expect(res.body.length).toBeGreaterThan(0);
      expect(res.body.subarray(0, 1).toString('utf8')).not.toBe('{');
      expect(GreetResponse.decode(new Uint8Array(res.body))).toEqual({ greeting: 'Hello Pete' });
    });

    it('answers application/proto through fetch too, with a name that needs UTF-8', async () => {
      // Act
      const res = await fetch(`${runner.ingressUrl}/org.example.Greeter/Greet`, {
        method: 'POST',
        headers: { 'content-type': 'application/proto' },
        body: GreetRequest.encode({ name: 'Zoë 🙂' }).finish(),
      });

      // Assess
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/proto');
      expect(GreetResponse.decode(new Uint8Array(await res.arrayBuffer()))).toEqual({ greeting: 'Hello Zoë 🙂' });
    });

    it('answers a GET with 405 and Allow: POST: only POST invokes a handler', async () => {
      // Act
      const res = await call('/org.example.Greeter/Greet');

      // Assess
      expect(res.status, res.text).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(res.json).toEqual({ code: 'unimplemented', message: expect.stringMatching(/only POST/) });
      expect(res.headers.get('x-restate-id')).toBeNull();
    });
  });

  describe('the keyed counter router, with state', () => {
    it('adds per key and keeps the count in state', async () => {
      // Act
      const first = await curl(['-X', 'POST', `${ingress}/counter/add`, '-H', 'content-type: application/json', '-d', '{"key":"k1","request":{"delta":2}}']);
      const second = await postJson('/counter/add', { key: 'k1', request: { delta: 2 } });
      const other = await postJson('/counter/add', { key: 'k2', request: { delta: 5 } });
      const byDefault = await postJson('/counter/add', { key: 'k2' });
      const getK1 = await postJson('/counter/get', { key: 'k1' });
      const getK2 = await postJson('/counter/get', { key: 'k2' });
      const getNew = await postJson('/counter/get', { key: 'never-used' });

      // Assess
      expect(first.status, first.raw).toBe(200);
      expect(JSON.parse(first.body.toString('utf8'))).toEqual({ response: 2 });
      expect(second.json).toEqual({ response: 4 });
      expect(other.json).toEqual({ response: 5 });
      expect(byDefault.json).toEqual({ response: 6 });
      expect(getK1.json).toEqual({ response: 4 });
      expect(getK2.json).toEqual({ response: 6 });
      expect(getNew.json).toEqual({ response: 0 });
      const ids = [first.headers['x-restate-id'], second.headers.get('x-restate-id'), other.headers.get('x-restate-id')];
      for (const id of ids) expect(id).toMatch(INVOCATION_ID);
      expect(new Set(ids).size).toBe(3);
    });

    it('runs concurrent adds on one key one at a time, losing none', async () => {
      // Act
      const results = await Promise.all(Array.from({ length: 5 }, () => postJson('/counter/add', { key: 'concurrent', request: { delta: 1 } })));
      const total = await postJson('/counter/get', { key: 'concurrent' });

      // Assess
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(results.map((r) => (r.json as { response: number }).response).sort()).toEqual([1, 2, 3, 4, 5]);
      expect(total.json).toEqual({ response: 5 });
    });

    it('answers the unkeyed greeter router and the durable sleeper', async () => {
      // Act
      const greet = await postJson('/greeter/greet', { request: { name: 'Ada' } });
      const started = Date.now();
      const slept = await postJson('/sleeper/sleep', { request: { millis: 300 } });

      // Assess
      expect(greet.json).toEqual({ response: 'Hello Ada' });
      expect(slept.status, slept.text).toBe(200);
      expect(slept.json).toEqual({ response: 'slept 300' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    });
  });

  describe('ingress errors (docs/protocol.md §6.7)', () => {
    const json = (body: unknown): RequestInit => ({ method: 'POST', headers: JSON_CT, body: JSON.stringify(body) });

    it.each([
      { $case: 'an unknown service', path: '/nope.Svc/M', init: json({}), status: 404, code: 'not_found', message: /Service 'nope.Svc' not found/ },
      { $case: 'an unknown method', path: '/org.example.Greeter/Nope', init: json({}), status: 404, code: 'not_found', message: /org.example.Greeter\/Nope/ },
      {
        $case: 'a path with one segment',
        path: '/org.example.Greeter',
        init: json({}),
        status: 400,
        code: 'invalid_argument',
        message: /\/\{service\}\/\{method\}/,
      },
      {
        $case: 'a path with three segments',
        path: '/org.example.Greeter/Greet/x',
        init: json({}),
        status: 400,
        code: 'invalid_argument',
        message: /\/\{service\}\/\{method\}/,
      },
      { $case: 'the root path', path: '/', init: json({}), status: 400, code: 'invalid_argument', message: /./ },
      {
        $case: 'unparsable JSON',
        path: '/org.example.Greeter/Greet',
        init: { method: 'POST', headers: JSON_CT, body: '{"name":' },
        status: 400,
        code: 'invalid_argument',
        message: /Error when parsing request/,
      },
      {
        $case: 'an unknown JSON field',
        path: '/org.example.Greeter/Greet',
        init: json({ nme: 'Pete' }),
        status: 400,
        code: 'invalid_argument',
        message: /nme/,
      },
      {
        $case: 'an unknown field of a router request',
        path: '/counter/add',
        init: json({ key: 'k', request: {}, extra: 1 }),
        status: 400,
        code: 'invalid_argument',
        message: /extra/,
      },
      {
        $case: 'a JSON field of the wrong type',
        path: '/org.example.Greeter/Greet',
        init: json({ name: 42 }),
        status: 400,
        code: 'invalid_argument',
        message: /./,
      },
      {
        // Deliberate deviation: the 0.x runtime answered INTERNAL (500) here.
        $case: 'invalid protobuf bytes',
        path: '/org.example.Greeter/Greet',
        init: { method: 'POST', headers: { 'content-type': 'application/proto' }, body: new Uint8Array([0xff, 0xff, 0xff]) },
        status: 400,
        code: 'invalid_argument',
        message: /GreetRequest/,
      },
      {
        $case: 'an unknown content-encoding',
        path: '/org.example.Greeter/Greet',
        init: { method: 'POST', headers: { ...JSON_CT, 'content-encoding': 'compress' }, body: '{"name":"Pete"}' },
        status: 501,
        code: 'unimplemented',
        message: /unknown compression 'compress': supported encodings are gzip, br/,
      },
      {
        $case: 'a gzip body that does not inflate',
        path: '/org.example.Greeter/Greet',
        init: { method: 'POST', headers: { ...JSON_CT, 'content-encoding': 'gzip' }, body: '{"name":"Pete"}' },
        status: 400,
        code: 'invalid_argument',
        message: /gzip data cannot be decompressed/,
      },
      {
        // The SDK would fail the invocation with a terminal error (500); the ingress refuses it first.
        $case: 'a keyed router call without a key',
        path: '/counter/add',
        init: json({ request: { delta: 1 } }),
        status: 400,
        code: 'invalid_argument',
        message: /'counter\/add' is a keyed handler: the request needs a non-empty "key"/,
      },
      {
        $case: 'an unkeyed router call with a key',
        path: '/greeter/greet',
        init: json({ key: 'k', request: { name: 'x' } }),
        status: 400,
        code: 'invalid_argument',
        message: /'greeter\/greet' is not keyed/,
      },
    ])('answers $status $code for $case', async ({ path, init, status, code, message }) => {
      // Act
      const res = await call(path, init);

      // Assess
      expect(res.status, res.text).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json).toEqual({ code, message: expect.stringMatching(message) });
    });

    it.each([
      { $case: 'text/plain', method: 'POST', headers: { 'content-type': 'text/plain' } as Record<string, string>, body: 'Pete' },
      { $case: 'form data', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Pete' },
      { $case: 'POST without a content type', method: 'POST', headers: {}, body: new Uint8Array([1]) },
    ])('answers 415 with a Connect error naming the accepted types for $case', async ({ method, headers, body }) => {
      // Act
      const res = await call('/org.example.Greeter/Greet', { method, headers, body });

      // Assess
      expect(res.status, res.text).toBe(415);
      expect(res.headers.get('accept-post')).toMatch(/application\/json, application\/proto/);
      expect(res.json).toEqual({ code: 'invalid_argument', message: expect.stringMatching(/send application\/json or application\/proto/) });
    });

    it('tells curl without a content-type header (it sends a form type) what to send, with 415', async () => {
      // Act: the most common first mistake: -d without -H 'content-type: application/json'.
      const res = await curl(['-X', 'POST', `${ingress}/org.example.Greeter/Greet`, '-d', '{"name": "Pete"}']);

      // Assess
      expect(res.status, res.raw).toBe(415);
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({
        code: 'invalid_argument',
        message: expect.stringMatching(/^content-type 'application\/x-www-form-urlencoded' is not supported: send application\/json/),
      });
    });

    it('answers 403 permission_denied for a private service, and serves it again once public', async () => {
      // Act: make greeter private.
      const patched = await adminCall('PATCH', '/services/greeter', { public: false });
      let denied: Awaited<ReturnType<typeof call>>;
      let restored: Awaited<ReturnType<typeof adminCall>>;
      try {
        denied = await postJson('/greeter/greet', { request: { name: 'Eve' } });
      } finally {
        // Public again even when the call throws, so later tests see the usual greeter.
        restored = await adminCall('PATCH', '/services/greeter', { public: true });
      }
      const allowed = await postJson('/greeter/greet', { request: { name: 'Eve' } });
      const other = await postJson('/org.example.Greeter/Greet', { name: 'Eve' });

      // Assess
      expect(patched.status).toBe(200);
      expect(patched.json).toMatchObject({ name: 'greeter', public: false, instance_type: 'Unkeyed' });
      expect(denied.status, denied.text).toBe(403);
      expect(denied.json).toEqual({ code: 'permission_denied', message: expect.stringContaining('greeter') });
      expect(restored.status).toBe(200);
      expect(restored.json).toMatchObject({ name: 'greeter', public: true });
      expect(allowed.status, allowed.text).toBe(200);
      expect(allowed.json).toEqual({ response: 'Hello Eve' });
      expect(other.json).toEqual({ greeting: 'Hello Eve' });
    });
  });

  describe('admin API (docs/protocol.md §5)', () => {
    it('answers 200 on /health', async () => {
      // Act
      const res = await fetch(`${runner.adminUrl}/health`);

      // Assess
      expect(res.status).toBe(200);
    });

    it('lists the four example services with their instance types on GET /services', async () => {
      // Act
      const res = await curl([`${admin}/services`]);

      // Assess
      expect(res.status, res.raw).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const { services } = JSON.parse(res.body.toString('utf8')) as { services: { name: string; instance_type: string }[] };
      const types = Object.fromEntries(services.map((s) => [s.name, s.instance_type]));
      expect(types).toEqual({ 'org.example.Greeter': 'Unkeyed', greeter: 'Unkeyed', counter: 'Keyed', sleeper: 'Unkeyed' });
    });

    it('describes counter on GET /services/counter', async () => {
      // Act
      const res = await adminCall('GET', '/services/counter');

      // Assess
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        name: 'counter',
        methods: [
          { name: 'add', input_type: 'RpcRequest', output_type: 'RpcResponse', key_field_number: 1 },
          { name: 'get', input_type: 'RpcRequest', output_type: 'RpcResponse', key_field_number: 1 },
        ],
        instance_type: 'Keyed',
        endpoint_id: expect.any(String),
        revision: 1,
        public: true,
      });
    });

    it('describes the protobuf greeter without key_field_number, with fully qualified types', async () => {
      // Act
      const res = await adminCall('GET', '/services/org.example.Greeter');

      // Assess
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        name: 'org.example.Greeter',
        instance_type: 'Unkeyed',
        methods: [{ name: 'Greet', input_type: 'org.example.GreetRequest', output_type: 'org.example.GreetResponse' }],
      });
      expect((res.json as { methods: object[] }).methods[0]).not.toHaveProperty('key_field_number');
    });

    it('answers 404 with a message for an unknown service', async () => {
      // Act
      const res = await adminCall('GET', '/services/nope');

      // Assess
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ message: expect.stringContaining('nope'), restate_code: null });
    });

    it('lists the example endpoint on GET /endpoints, with the id the services name', async () => {
      // Act
      const list = await adminCall('GET', '/endpoints');
      const counter = await adminCall('GET', '/services/counter');

      // Assess
      expect(list.status).toBe(200);
      const { endpoints } = list.json as { endpoints: { id: string; uri: string; services: { name: string; revision: number }[] }[] };
      expect(endpoints).toHaveLength(1);
      expect(endpoints[0]).toMatchObject({ uri: `http://127.0.0.1:${runner.ports.example}`, id: (counter.json as { endpoint_id: string }).endpoint_id });
      expect(endpoints[0]?.services.map((s) => s.name).sort()).toEqual(['counter', 'greeter', 'org.example.Greeter', 'sleeper']);
    });

    it.each([
      { $case: 'not a URI', body: { uri: 'not a uri' } },
      { $case: 'an ftp URI', body: { uri: 'ftp://example.com' } },
      { $case: 'neither uri nor arn', body: {} },
    ])('answers 400 on POST /endpoints with $case', async ({ body }) => {
      // Act
      const res = await adminCall('POST', '/endpoints', body);

      // Assess
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ message: expect.any(String), restate_code: null });
    });

    it('reports a finished invocation as completed, and DELETE of it is a clear no-op', async () => {
      // Prepare
      const done = await postJson('/org.example.Greeter/Greet', { name: 'Done' });
      const id = done.headers.get('x-restate-id') ?? '';
      expect(id).toMatch(INVOCATION_ID);

      // Act
      const status = await adminCall('GET', `/invocations/${id}`);
      const deleted = await adminCall('DELETE', `/invocations/${id}`);
      const after = await adminCall('GET', `/invocations/${id}`);
      const output = await call(`/restate/invocation/${id}/output`);

      // Assess
      expect(status.status).toBe(200);
      expect(status.json).toMatchObject({ id, status: 'completed', service: 'org.example.Greeter', method: 'Greet' });
      expect(deleted.status).toBe(200);
      expect(deleted.json).toMatchObject({ id, status: 'completed', message: expect.stringMatching(/already finished/) });
      expect(after.json).toMatchObject({ id, status: 'completed' });
      expect(output.json).toEqual({ greeting: 'Hello Done' });
    });

    it.each([
      { $case: 'GET of a malformed id', method: 'GET', id: 'bogus', status: 400 },
      { $case: 'DELETE of a malformed id', method: 'DELETE', id: 'bogus', status: 400 },
      { $case: 'GET of an id one character short', method: 'GET', id: `inv_${'A'.repeat(21)}`, status: 400 },
      { $case: 'GET of an unknown well-formed id', method: 'GET', id: `inv_${'A'.repeat(22)}`, status: 404 },
      { $case: 'DELETE of an unknown well-formed id', method: 'DELETE', id: `inv_${'Z'.repeat(21)}-`, status: 404 },
    ])('answers $status for $case', async ({ method, id, status }) => {
      // Act
      const res = await adminCall(method, `/invocations/${id}`);

      // Assess
      expect(res.status).toBe(status);
      expect(res.json).toEqual({ message: expect.stringContaining(id), restate_code: null });
    });
  });

  describe('invocation output (/restate/invocation/{id}/output and /attach)', () => {
    it('returns the result JSON of a finished call on output and attach', async () => {
      // Prepare
      const greet = await curl(['-X', 'POST', `${ingress}/org.example.Greeter/Greet`, '-H', 'content-type: application/json', '-d', '{"name": "Pete"}']);
      const add = await postJson('/counter/add', { key: 'output', request: { delta: 7 } });
      const greetId = greet.headers['x-restate-id'];
      const addId = add.headers.get('x-restate-id');

      // Act
      const greetOutput = await curl([`${ingress}/restate/invocation/${greetId}/output`]);
      const greetAttach = await call(`/restate/invocation/${greetId}/attach`);
      const addOutput = await call(`/restate/invocation/${addId}/output`);
      const addAttach = await call(`/restate/invocation/${addId}/attach`);

      // Assess
      expect(greetOutput.status, greetOutput.raw).toBe(200);
      expect(greetOutput.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(greetOutput.body.toString('utf8'))).toEqual({ greeting: 'Hello Pete' });
      expect(greetAttach.json).toEqual({ greeting: 'Hello Pete' });
      expect(addOutput.json).toEqual({ response: 7 });
      expect(addAttach.json).toEqual({ response: 7 });
    });

    it('answers the failure of a failed (canceled) call on output with its code', async () => {
      // Prepare: a one-way sleep, canceled.
      const sent = await postJson('/dev.restate.Ingress/Invoke', { service: 'sleeper', method: 'sleep', argument: { request: { millis: 20_000 } } });
      const id = (sent.json as { id: string }).id;
      await adminCall('DELETE', `/invocations/${id}?mode=cancel`);

      // Act
      let output = await call(`/restate/invocation/${id}/output`);
      for (let i = 0; i < 50 && output.status === 470; i++) {
        await new Promise((r) => setTimeout(r, 100));
        output = await call(`/restate/invocation/${id}/output`);
      }

      // Assess
      expect(id).toMatch(INVOCATION_ID);
      expect(output.status, output.text).toBe(408);
      expect(output.json).toMatchObject({ code: 'canceled' });
    });

    it.each([
      { $case: 'an unknown well-formed id', id: `inv_${'A'.repeat(22)}`, status: 404, code: 'not_found' },
      { $case: 'a malformed id', id: 'bogus', status: 400, code: 'invalid_argument' },
    ])('answers $status $code on output for $case', async ({ id, status, code }) => {
      // Act
      const res = await call(`/restate/invocation/${id}/output`);

      // Assess
      expect(res.status, res.text).toBe(status);
      expect(res.json).toEqual({ code, message: expect.any(String) });
    });
  });

  describe('README commands: one-way sends, idempotency, kill and cancel', () => {
    /** POST /dev.restate.Ingress/Invoke; the new invocation's id. */
    async function send(service: string, method: string, argument: unknown): Promise<string> {
      const res = await postJson('/dev.restate.Ingress/Invoke', { service, method, argument });
      expect(res.status, res.text).toBe(200);
      const { id } = res.json as { id: string };
      expect(id).toMatch(INVOCATION_ID);
      return id;
    }

    it('sends one way through dev.restate.Ingress/Invoke, and attach waits for the result', async () => {
      // Act
      const id = await send('counter', 'add', { key: 'one-way', request: { delta: 3 } });
      const attached = await call(`/restate/invocation/${id}/attach`);
      const count = await postJson('/counter/get', { key: 'one-way' });

      // Assess
      expect(attached.status, attached.text).toBe(200);
      expect(attached.json).toEqual({ response: 3 });
      expect(count.json).toEqual({ response: 3 });
    });

    it('runs a call with an Idempotency-Key once, answers repeats the same, refuses the key for another body', async () => {
      // Act
      const args = ['-X', 'POST', `${ingress}/counter/add`, '-H', 'content-type: application/json', '-H', 'Idempotency-Key: readme-1'];
      const first = await curl([...args, '-d', '{"key":"idem","request":{"delta":5}}']);
      const repeat = await curl([...args, '-d', '{"key":"idem","request":{"delta":5}}']);
      const otherBody = await curl([...args, '-d', '{"key":"idem","request":{"delta":6}}']);
      const count = await postJson('/counter/get', { key: 'idem' });

      // Assess
      expect(first.status, first.raw).toBe(200);
      expect(first.body.toString('utf8')).toBe('{"response":5}');
      expect(first.headers['idempotency-expires']).toBeDefined();
      expect(repeat.status).toBe(200);
      expect(repeat.body.toString('utf8')).toBe('{"response":5}');
      expect(repeat.headers['x-restate-id']).toBe(first.headers['x-restate-id']);
      expect(otherBody.status, otherBody.raw).toBe(422);
      expect(JSON.parse(otherBody.body.toString('utf8'))).toMatchObject({ code: 'failed_precondition' });
      expect(count.json).toEqual({ response: 5 });
    });

    it('answers 470 on output while a call runs; DELETE kills it and its output is 409 aborted "killed"', async () => {
      // Prepare
      const id = await send('sleeper', 'sleep', { request: { millis: 20_000 } });

      // Act
      const running = await call(`/restate/invocation/${id}/output`);
      const status = await adminCall('GET', `/invocations/${id}`);
      const killed = await curl(['-X', 'DELETE', `${admin}/invocations/${id}`]);
      const output = await call(`/restate/invocation/${id}/output`);
      const after = await adminCall('GET', `/invocations/${id}`);

      // Assess
      expect(running.status, running.text).toBe(470);
      expect(running.json).toMatchObject({ code: 'not_ready' });
      expect(status.json).toMatchObject({ id, service: 'sleeper', method: 'sleep' });
      expect((status.json as { status: string }).status).not.toBe('completed');
      expect(killed.status, killed.raw).toBe(202);
      expect(output.status, output.text).toBe(409);
      expect(output.json).toEqual({ code: 'aborted', message: 'killed' });
      expect(after.json).toMatchObject({ id, status: 'completed', result: { kind: 'failure', code: 10, message: 'killed' } });
    });

    it('cancels a sleeping call with ?mode=cancel: it ends as canceled (code 1, HTTP 408)', async () => {
      // Prepare: wait until it sleeps, so the cancel reaches a pending Sleep entry.
      const id = await send('sleeper', 'sleep', { request: { millis: 20_000 } });
      for (let i = 0; i < 50; i++) {
        const s = await adminCall('GET', `/invocations/${id}`);
        if ((s.json as { status: string }).status === 'suspended') break;
        await new Promise((r) => setTimeout(r, 100));
      }

      // Act
      const cancelled = await adminCall('DELETE', `/invocations/${id}?mode=cancel`);
      const attached = await call(`/restate/invocation/${id}/attach`);

      // Assess
      expect(cancelled.status).toBe(202);
      expect(cancelled.json).toMatchObject({ id, status: 'canceling' });
      expect(attached.status, attached.text).toBe(408);
      expect(attached.json).toMatchObject({ code: 'canceled' });
    });
  });

  describe('stopping', () => {
    it('exits 0 on SIGINT and frees its ports', async () => {
      // Act
      const exit = await runner.stop();

      // Assess
      expect(exit, runner.tail()).toEqual({ code: 0, signal: null });
      expect(runner.output()).toContain('stopping');
      const dynamoPort = Number(new URL(runner.dynamoEndpoint).port);
      for (const port of [runner.ports.ingress, runner.ports.admin, runner.ports.example, dynamoPort]) {
        expect(await portIsFree(port), `port ${port}`).toBe(true);
      }
    });
  });
});
