import { beforeAll, describe, expect, it } from 'vitest';
import { servicesEndpoint } from '../../examples/services.js';
import { greeterEndpoint } from '../../examples/greeter/greeter.js';
import type { HttpHandler } from '../../lib/http/types.js';
import { inProcessRuntime, post as postJson } from '../support/runtime.js';

async function setup(endpoint = servicesEndpoint()) {
  return inProcessRuntime(endpoint);
}

function post(ingress: HttpHandler, path: string, body: unknown, contentType = 'application/json') {
  return postJson(ingress, path, body, { contentType });
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('driver through the Connect ingress (real SDK 0.8.1 via its Lambda handler)', () => {
  let env: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    env = await setup();
  });

  it('answers a router greeter call and stores the result', async () => {
    const res = await post(env.ingress, '/greeter/greet', { request: { name: 'Ada' } });
    expect(res.status).toBe(200);
    expect(JSON.parse(text(res.body))).toEqual({ response: 'Hello Ada' });
    const id = res.headers['x-restate-id']!;
    expect(id).toMatch(/^inv_/);
    const rec = await env.store.get(id);
    expect(rec?.status).toBe('completed');
    expect(rec?.result?.kind).toBe('value');
  });

  it('keeps state of a keyed counter across calls, per key', async () => {
    const a1 = await post(env.ingress, '/counter/add', { key: 'a', request: { delta: 2 } });
    const a2 = await post(env.ingress, '/counter/add', { key: 'a', request: { delta: 3 } });
    const b1 = await post(env.ingress, '/counter/add', { key: 'b' });
    expect([a1.status, a2.status, b1.status]).toEqual([200, 200, 200]);
    expect(JSON.parse(text(a2.body))).toEqual({ response: 5 });
    expect(JSON.parse(text(b1.body))).toEqual({ response: 1 });
  });

  it('serializes concurrent calls on one key: 20 increments end at 20', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => post(env.ingress, '/counter/add', { key: 'many' })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const values = results.map((r) => JSON.parse(text(r.body)).response as number).sort((x, y) => x - y);
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('sleeps and resumes (short sleep waited inline)', async () => {
    const started = Date.now();
    const res = await post(env.ingress, '/sleeper/sleep', { request: { millis: 300 } });
    expect(JSON.parse(text(res.body))).toEqual({ response: 'slept 300' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});

describe('driver with the protobuf example greeter', () => {
  it('answers JSON and binary proto', async () => {
    const env = await setup(greeterEndpoint());
    const json = await post(env.ingress, '/org.example.Greeter/Greet', { name: 'Pete' });
    expect(json.status).toBe(200);
    expect(text(json.body)).toBe('{"greeting":"Hello Pete"}');
    // GreetRequest{name="Pete"}: field 1, length-delimited
    const proto = await post(env.ingress, '/org.example.Greeter/Greet', new Uint8Array([0x0a, 4, ...Buffer.from('Pete')]), 'application/proto');
    expect(proto.status).toBe(200);
    expect(proto.headers['content-type']).toBe('application/proto');
    expect(Buffer.from(proto.body)).toEqual(Buffer.from([0x0a, 10, ...Buffer.from('Hello Pete')]));
  });
});
