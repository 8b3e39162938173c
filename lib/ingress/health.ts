/**
 * `grpc.health.v1.Health` as the 0.x ingress answered it: an empty name or a public service is
 * SERVING, a private one NOT_SERVING, an unknown one NOT_FOUND; Watch is UNIMPLEMENTED.
 *
 * Served by Connect-ES from the generated descriptor: natively over gRPC by the local server, and
 * over Connect and gRPC-web through the neutral shape here (so API Gateway → Lambda answers too).
 */
import { Code as ConnectCode, ConnectError, createConnectRouter, type ConnectRouter, type ServiceImpl } from '@connectrpc/connect';
import type { UniversalHandler } from '@connectrpc/connect/protocol';
import { compressionBrotli, compressionGzip } from '@connectrpc/connect-node';
import { Health, HealthCheckResponse_ServingStatus } from '../../gen/grpc/health/v1/health_pb.js';
import { MAX_INGRESS_BODY_BYTES, MAX_NAME_BYTES } from '../http/limits.js';
import { emptyResponse, type HttpHandler, type HttpRequest, type HttpResponse } from '../http/types.js';
import type { ServiceResolver } from '../registry/types.js';
import { builtinService } from './builtins.js';

export const HEALTH_SERVICE = Health.typeName;

/** Services the ingress answers itself; they are always SERVING. */
const INGRESS_SERVICES = new Set([HEALTH_SERVICE, 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']);

export function healthService(resolver: ServiceResolver): ServiceImpl<typeof Health> {
  return {
    async check(req) {
      const name = req.service;
      if (Buffer.byteLength(name) > MAX_NAME_BYTES)
        throw new ConnectError(`the service name '${name.slice(0, 40)}…' is longer than ${MAX_NAME_BYTES} bytes`, ConnectCode.InvalidArgument);
      if (name === '' || INGRESS_SERVICES.has(name) || builtinService(name)) return { status: HealthCheckResponse_ServingStatus.SERVING };
      const service = await resolver.resolve(name);
      if (!service)
        throw new ConnectError(`Service '${name}' not found. Check whether the deployment containing the service is registered.`, ConnectCode.NotFound);
      return { status: service.meta.public ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING };
    },
    // eslint-disable-next-line require-yield
    async *watch() {
      throw new ConnectError('grpc.health.v1.Health/Watch is not offered (a unary ingress cannot stream); poll Check instead', ConnectCode.Unimplemented);
    },
  };
}

export function healthRoutes(resolver: ServiceResolver): (router: ConnectRouter) => void {
  return (router) => router.service(Health, healthService(resolver));
}

/**
 * Health over the neutral HTTP shape (Connect unary and gRPC-web; native gRPC needs HTTP/2
 * trailers and is only served by the local server).
 */
export function createHealthHttpHandler(resolver: ServiceResolver): HttpHandler {
  // Compressed requests as the rest of the ingress accepts them, inflated to the same limit.
  const router = createConnectRouter({
    grpc: false,
    grpcWeb: true,
    connect: true,
    acceptCompression: [compressionGzip, compressionBrotli],
    readMaxBytes: MAX_INGRESS_BODY_BYTES,
  });
  healthRoutes(resolver)(router);
  const byPath = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return async (req) => {
    const handler = byPath.get(req.path);
    if (!handler) return emptyResponse(404);
    return serveUniversal(handler, req);
  };
}

/** Runs a Connect-ES universal handler for one buffered request (trailers of unary Connect travel as `trailer-*` headers already). */
export async function serveUniversal(handler: UniversalHandler, req: HttpRequest): Promise<HttpResponse> {
  const query = req.query.toString();
  const res = await handler({
    httpVersion: '1.1',
    url: `http://ingress${req.path}${query ? `?${query}` : ''}`,
    method: req.method,
    header: req.headers,
    body: (async function* () {
      yield req.body;
    })(),
    signal: req.signal ?? new AbortController().signal,
  });
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body ?? []) chunks.push(chunk);
  const headers: Record<string, string> = {};
  res.header?.forEach((value, key) => (headers[key] = value));
  return { status: res.status, headers, body: Buffer.concat(chunks) };
}
