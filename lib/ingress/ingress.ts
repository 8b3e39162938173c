/**
 * The ingress router: CORS preflight, invocation output/attach, gRPC health, reflection and
 * gRPC-web (lib/ingress/grpc-web.ts), then the Connect handler for `/{service}/{method}`.
 */
import { asRestlessError, Code, InvalidArgumentError, NotFoundError, PermissionDeniedError, RestlessError } from '../errors.js';
import { emptyResponse, type HttpHandler, type HttpRequest, type HttpResponse } from '../http/types.js';
import { isInvocationId } from '../ids.js';
import { InvocationStatus, type InvocationResult, type InvocationStore } from '../store/invocation-store.js';
import { connectError, createConnectHandler, encodeOutput, failureError } from './connect.js';
import type { CallDeps } from './call.js';
import { corsHeaders, preflight } from './cors.js';
import { createGrpcRoutes } from './grpc-web.js';

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
    const invocationPath = INVOCATION_PATH.exec(req.path);
    const res = invocationPath ? await invocationResult(deps, req, invocationPath[1]!, invocationPath[2] as 'output' | 'attach') : await (grpc(req) ?? connect(req));
    return origin ? { ...res, headers: { ...res.headers, ...corsHeaders(origin, deps.config.corsAllowedOrigins) } } : res;
  };
}

/** `GET /restate/invocation/{id}/output` (peek) and `/attach` (wait until the ingress deadline). */
async function invocationResult(deps: IngressHandlerDeps, req: HttpRequest, rawId: string, mode: 'output' | 'attach'): Promise<HttpResponse> {
  const headers: Record<string, string> = {};
  try {
    if (req.method !== 'GET' && req.method !== 'POST') return emptyResponse(405, { allow: 'GET' });
    const id = decodeURIComponent(rawId);
    if (!isInvocationId(id)) throw new InvalidArgumentError(`'${id}' is not an invocation id`);
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
      return { status: 470, headers: { 'content-type': 'application/json', ...headers }, body: new TextEncoder().encode(JSON.stringify({ code: 'not_ready', message: `invocation ${id} has not finished yet` })) };
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
