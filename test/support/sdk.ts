/**
 * Real SDK 0.8.1 endpoints in the test process: called through their Lambda handler (as a
 * Lambda endpoint would be) and resolved from their own discovery answer.
 */
import type * as restate from '@restatedev/restate-sdk';
import type { EndpointTransport } from '../../lib/endpoint/types.js';
import { discover } from '../../lib/registry/discovery.js';
import { DescriptorSchema } from '../../lib/registry/schema.js';
import type { EndpointRecord, ResolvedService, ServiceMetadata, ServiceResolver } from '../../lib/registry/types.js';

type LambdaResult = { statusCode: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean };

export function inProcessTransport(endpoint: restate.RestateEndpoint): EndpointTransport & { calls: number } {
  const handle = endpoint.lambdaHandler();
  const transport = {
    calls: 0,
    async call(req: { path: string; headers: Record<string, string>; body: Uint8Array; signal?: AbortSignal }) {
      transport.calls++;
      // Like a network call, give up when the caller's signal fires (the handler may run on).
      const aborted = new Promise<never>((_, reject) => {
        if (req.signal?.aborted) reject(new Error('aborted'));
        req.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
      const out = (await Promise.race([
        aborted,
        handle(
          { path: req.path, httpMethod: 'POST', headers: req.headers, body: Buffer.from(req.body).toString('base64'), isBase64Encoded: true },
          { awsRequestId: 'test' },
        ),
      ])) as LambdaResult;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(out.headers ?? {})) headers[k.toLowerCase()] = v;
      return { status: out.statusCode, headers, body: out.body ? Buffer.from(out.body, out.isBase64Encoded ? 'base64' : 'utf8') : new Uint8Array(0) };
    },
  };
  return transport;
}

/** A resolver over one endpoint's discovery, with nothing stored. */
export async function staticResolver(
  transport: EndpointTransport,
  opts: { endpointId?: string; private?: string[] } = {},
): Promise<ServiceResolver & { endpoint: EndpointRecord }> {
  const found = await discover(transport);
  const schema = DescriptorSchema.decode(found.files);
  const endpoint: EndpointRecord = {
    id: opts.endpointId ?? 'ep-test',
    address: { kind: 'lambda', arn: 'arn:aws:lambda:us-east-1:123456789012:function:test', additionalHeaders: {} },
    protocolType: found.protocolMode,
    services: found.services.map((name) => ({ name, revision: 1 })),
    descriptorSet: schema.toBinary(),
    createdAt: new Date(0).toISOString(),
  };
  const services = new Map<string, ResolvedService>();
  for (const name of found.services) {
    const c = schema.service(name);
    const meta: ServiceMetadata = {
      name,
      methods: c.methods,
      instance_type: c.instanceType,
      endpoint_id: endpoint.id,
      revision: 1,
      public: !(opts.private ?? []).includes(name),
    };
    services.set(name, { meta, endpoint, registry: schema.registry, methods: c.resolved });
  }
  return {
    endpoint,
    resolve: async (name) => services.get(name),
    // One deployment: pinned invocations run on it too (meta.public false, as the real resolver).
    resolveDeployment: async (id, name) => {
      const s = id === endpoint.id ? services.get(name) : undefined;
      return s === undefined ? undefined : { ...s, meta: { ...s.meta, public: false } };
    },
    list: async () => [...services.values()].map((s) => s.meta),
  };
}
