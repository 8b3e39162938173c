/**
 * A singleton protobuf service (service_type SINGLETON through the SDK's uninterpreted option):
 * every call goes through the one instance, keyed by the empty key.
 */
import * as restate from '@restatedev/restate-sdk';
import { describe, expect, it } from 'vitest';
import { protoMetadata } from '../../examples/greeter/generated/greeter.js';
import { GreeterService } from '../../examples/greeter/greeter.js';
import { inProcessRuntime, json, post } from '../support/runtime.js';

/** The example's descriptor moved to package `org.single` and marked SINGLETON. */
function singletonMetadata() {
  const moved = JSON.parse(
    JSON.stringify({ fileDescriptor: protoMetadata.fileDescriptor }).replaceAll('org.example', 'org.single').replaceAll('greeter.proto', 'single.proto'),
  ) as { fileDescriptor: typeof protoMetadata.fileDescriptor };
  const references = Object.fromEntries(Object.entries(protoMetadata.references).map(([k, v]) => [k.replace('org.example', 'org.single'), v]));
  return {
    ...protoMetadata,
    fileDescriptor: moved.fileDescriptor,
    references,
    options: { services: { Greeter: { options: { service_type: 2 }, methods: {} } } },
  };
}

describe('singleton services', () => {
  it('register as Singleton and run on the empty key', async () => {
    const endpoint = restate
      .endpoint()
      .bindService({ descriptor: singletonMetadata() as typeof protoMetadata, service: 'Greeter', instance: new GreeterService() });
    const env = await inProcessRuntime(endpoint);
    const results = await Promise.all(['A', 'B', 'C'].map((name) => post(env.ingress, '/org.single.Greeter/Greet', { name })));
    expect(results.map((r) => json(r))).toEqual([{ greeting: 'Hello A' }, { greeting: 'Hello B' }, { greeting: 'Hello C' }]);
    const rec = await env.store.get(results[0]!.headers['x-restate-id']!);
    expect(rec).toMatchObject({ kind: 'singleton', key: '' });
    expect((await env.store.getInstance('org.single.Greeter', '')).queue).toEqual([]);
  });
});
