/**
 * The ingress router: the body limit, CORS preflight, invocation output/attach, gRPC health,
 * reflection and gRPC-web (lib/ingress/grpc-web.ts), then the Connect handler for
 * `/{service}/{method}`.
 */
import { asRestlessError, Code, InvalidArgumentError, MethodNotAllowedError, NotFoundError, PermissionDeniedError, RestlessError } from '../errors.js';
import { checkBodySize, MAX_INGRESS_BODY_BYTES } from '../http/limits.js';
import { type HttpHandler, type HttpRequest, type HttpResponse } from '../http/types.js';
import { isInvocationId } from '../ids.js';
import { InvocationStatus, type InvocationResult, type InvocationStore } from '../store/invocation-store.js';
import { connectError, createConnectHandler, encodeOutput, failureError } from './connect.js';
import type { CallDeps } from './call.js';
import { corsHeaders, preflight } from './cors.js';
import { createGrpcRoutes, grpcWebError, grpcWebFormatOf } from './grpc-web.js';
import { excerpt } from './target-path.js';

export interface IngressHandlerDeps extends CallDeps {
  store: InvocationStore;
}

const INVOCATION_PATH = /^\/restate\/invocation\/([^/]+)\/(output|attach)$/;

export function createIngressHandler(deps: IngressHandlerDeps): HttpHandler {
  const connect = createConnectHandler(deps);
  const grpc = createGrpcRoutes(deps);
  return async (req: HttpRequest): Promise<HttpResponse> => {
    const origin = req.headers.get('origin');
    if (req.method === 'OPTIONS') return preflight(req, deps.config.corsAllowedOrigins);
    const res = await route(req);
    return origin ? { ...res, headers: { ...res.headers, ...corsHeaders(origin, deps.config.corsAllowedOrigins) } } : res;
  };

  function route(req: HttpRequest): Promise<HttpResponse> {
    try {
      // The local server stops reading at the limit; API Gateway hands over whole bodies (up to 10 MB).
      checkBodySize(req.body.length, MAX_INGRESS_BODY_BYTES);
    } catch (err) {
      return Promise.resolve(ingressError(req.headers.get('content-type'), asRestlessError(err)));
    }
    const invocationPath = INVOCATION_PATH.exec(req.path);
    if (invocationPath) return invocationResult(deps, req, invocationPath[1]!, invocationPath[2] as 'output' | 'attach');
    // Three or more segments are never a /{service}/{method} call: say which routes exist here.
    if (req.path.startsWith('/restate/invocation/')) {
      return Promise.resolve(connectError(new NotFoundError('no such route: use GET /restate/invocation/{id}/output or /restate/invocation/{id}/attach')));
    }
    return grpc(req) ?? connect(req);
  }
}

/** An error in the caller's protocol: trailers-only for gRPC-web, a Connect error otherwise. */
export function ingressError(contentType: string | null, err: RestlessError): HttpResponse {
  const format = grpcWebFormatOf(contentType);
  return format ? grpcWebError(format, err) : connectError(err);
}

/** `GET /restate/invocation/{id}/output` (peek) and `/attach` (wait until the ingress deadline). */
async function invocationResult(deps: IngressHandlerDeps, req: HttpRequest, rawId: string, mode: 'output' | 'attach'): Promise<HttpResponse> {
  const headers: Record<string, string> = {};
  try {
    if (req.method !== 'GET' && req.method !== 'POST')
      throw new MethodNotAllowedError(`${excerpt(req.method, 20)} is not allowed here: use GET`, ['GET', 'POST']);
    if (!isInvocationId(rawId)) throw new InvalidArgumentError(`'${excerpt(rawId)}' is not an invocation id`);
    const id = rawId;
    headers['x-restate-id'] = id;
    const rec = await deps.store.get(id);
    if (!rec) throw new NotFoundError(`invocation ${id} not found (unknown, or its result is no longer retained)`);
    const service = await deps.resolver.resolve(rec.service);
    if (service && !service.meta.public) throw new PermissionDeniedError(`Service ${rec.service} is not accessible`);
    let result: InvocationResult | undefined = rec.status === InvocationStatus.Completed ? rec.result : undefined;
    if (!result && mode === 'attach') {
      const waited = await deps.dispatcher.waitForResult(id, Date.now() + deps.config.ingressDeadlineMs - 1_500, { signal: req.signal, handoff: req.signal });
      if (waited.kind === 'timeout') throw new RestlessError(Code.DeadlineExceeded, `invocation ${id} is still running; attach again`);
      result = waited.result;
    }
    if (!result) {
      return {
        status: 470,
        headers: { 'content-type': 'application/json', ...headers },
        body: new TextEncoder().encode(JSON.stringify({ code: 'not_ready', message: `invocation ${id} has not finished yet` })),
      };
    }
    if (result.kind === 'failure') return connectError(failureError(result), headers);
    const wantsProto = /application\/(proto|protobuf|x-protobuf)/.test(req.headers.get('accept') ?? '');
    const method = service?.methods.get(rec.method);
    if (!service || !method || wantsProto) {
      return { status: 200, headers: { 'content-type': 'application/proto', ...headers }, body: result.value };
    }
    return { status: 200, headers: { 'content-type': 'application/json', ...headers }, body: encodeOutput(service, method.output, 'json', result.value) };
  } catch (err) {
    return connectError(asRestlessError(err), headers);
  }
}
