/**
 * The admin ("meta") API over the neutral HTTP shape (docs/protocol.md §5): 0.5 `/endpoints`
 * routes with 0.8 `/deployments` aliases, services, descriptors, invocations, health, OpenAPI.
 * The handler never throws: every failure becomes `{"message", "restate_code"}` with its status,
 * and 5xx details go to the log only.
 */
import { Code, InvalidArgumentError, NotFoundError, RestlessError } from '../errors.js';
import { checkBodySize, checkNameLength, MAX_ADMIN_BODY_BYTES } from '../http/limits.js';
import { emptyResponse, jsonResponse, type HttpHandler, type HttpRequest, type HttpResponse } from '../http/types.js';
import { DeploymentInUseError } from '../registry/deployments.js';
import type { RegisterEndpointRequest } from '../registry/registration.js';
import type { Registry } from '../registry/registry.js';
import type { PinnedInvocations, ServiceMetadata } from '../registry/types.js';
import { deleteJson, endpointJson, pinnedCounts, registerJson } from './deployments.js';
import { consoleResponse } from './console/routes.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import type { InvocationAdmin, KillMode, ListQuery } from './types.js';

/** The registry operations the admin API uses (a Registry, or a fake in tests). */
export type AdminRegistry = Pick<
  Registry,
  'register' | 'listEndpoints' | 'getEndpoint' | 'endpointDescriptors' | 'deleteEndpoint' | 'listServices' | 'getService' | 'setPublic' | 'serviceDescriptors'
>;

export interface AdminDeps {
  registry: AdminRegistry;
  /** Invocation routes answer 501 without it. */
  invocations?: InvocationAdmin;
  /**
   * Counts invocations pinned to a deployment: listed as `pinned_invocations`, and DELETE refuses
   * (409) while any are, unless `?force=true`. Without it, nothing is counted or checked.
   */
  pinned?: PinnedInvocations;
  /** Called after every successful change (a co-located resolver can `invalidate()`). */
  onChange?: () => void;
  /** Where 5xx details go. Default console.error. */
  logError?: (message: string, err: unknown) => void;
}

type Params = Record<string, string>;
type Handler = (req: HttpRequest, params: Params) => Promise<HttpResponse>;

interface Route {
  /** Literal segments, or `:name` for a parameter. */
  pattern: string[];
  methods: Partial<Record<string, Handler>>;
}

const PROTOBUF = 'application/x-protobuf';

/** `GET /invocations?status=a,b&service=&method=&key=&limit=&cursor=`; unknown parameters are refused (a typo must not list everything). */
function listQuery(q: URLSearchParams): ListQuery {
  const allowed = new Set(['status', 'service', 'method', 'key', 'limit', 'cursor']);
  for (const name of q.keys()) if (!allowed.has(name)) throw new InvalidArgumentError(`Unknown query parameter '${name}': use ${[...allowed].join(', ')}`);
  const status = q
    .getAll('status')
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const limitRaw = q.get('limit');
  const limit = limitRaw === null ? undefined : Number(limitRaw);
  if (limit !== undefined && !Number.isInteger(limit)) throw new InvalidArgumentError(`Invalid limit '${limitRaw}': use a whole number`);
  const opt = (name: string) => q.get(name) ?? undefined;
  return { ...(status.length ? { status } : {}), service: opt('service'), method: opt('method'), key: opt('key'), limit, cursor: opt('cursor') };
}

/** How error messages name the path parameters. */
const PARAM_LABELS: Record<string, string> = { name: 'service name', method: 'method name', id: 'id' };

export function createAdminHandler(deps: AdminDeps): HttpHandler {
  const { registry, invocations, pinned } = deps;
  const logError = deps.logError ?? ((message: string, err: unknown) => console.error(message, err));
  const changed = () => deps.onChange?.();

  const endpointRoutes = (base: 'endpoints' | 'deployments'): Route[] => [
    {
      pattern: [base],
      methods: {
        GET: async () => {
          const endpoints = await registry.listEndpoints();
          const counts = await pinnedCounts(
            pinned,
            endpoints.map((e) => e.id),
          );
          return jsonResponse(200, { endpoints: endpoints.map((e, i) => endpointJson(e, counts[i])) });
        },
        POST: async (req) => {
          const body = parseJsonObject(req.body);
          const result = await registry.register(body as RegisterEndpointRequest, { signal: req.signal });
          if (!result.dryRun) changed();
          return jsonResponse(201, await registerJson(result, pinned), { location: `/${base}/${encodeURIComponent(result.id)}` });
        },
      },
    },
    {
      pattern: [base, ':id'],
      methods: {
        GET: async (_req, p) => {
          const endpoint = await registry.getEndpoint(p.id!);
          const [count] = await pinnedCounts(pinned, [endpoint.id]);
          return jsonResponse(200, endpointJson(endpoint, count));
        },
        DELETE: async (req, p) => {
          const force = req.query.get('force') ?? 'false';
          if (force !== 'true' && force !== 'false') throw new InvalidArgumentError(`Invalid force '${force}': use true or false`);
          const result = await registry.deleteEndpoint(p.id!, { force: force === 'true', pinned });
          changed();
          return jsonResponse(202, deleteJson(result));
        },
      },
    },
    {
      pattern: [base, ':id', 'descriptors'],
      methods: { GET: async (_req, p) => protobufResponse(await registry.endpointDescriptors(p.id!)) },
    },
  ];

  const routes: Route[] = [
    { pattern: ['health'], methods: { GET: async () => emptyResponse(200) } },
    { pattern: ['openapi'], methods: { GET: async () => jsonResponse(200, OPENAPI_DOCUMENT) } },
    ...endpointRoutes('endpoints'),
    ...endpointRoutes('deployments'),
    { pattern: ['services'], methods: { GET: async () => jsonResponse(200, { services: await registry.listServices() }) } },
    {
      pattern: ['services', ':name'],
      methods: {
        GET: async (_req, p) => jsonResponse(200, await registry.getService(p.name!)),
        PATCH: async (req, p) => {
          const body = parseJsonObject(req.body);
          const fields = Object.keys(body);
          if (fields.length !== 1 || fields[0] !== 'public' || typeof body.public !== 'boolean') {
            throw new InvalidArgumentError('The body must be exactly {"public": true} or {"public": false}');
          }
          const updated = await registry.setPublic(p.name!, body.public);
          changed();
          return jsonResponse(200, updated);
        },
      },
    },
    {
      pattern: ['services', ':name', 'methods'],
      methods: { GET: async (_req, p) => jsonResponse(200, { methods: (await registry.getService(p.name!)).methods }) },
    },
    {
      pattern: ['services', ':name', 'methods', ':method'],
      methods: {
        GET: async (_req, p) => {
          const service: ServiceMetadata = await registry.getService(p.name!);
          const method = service.methods.find((m) => m.name === p.method);
          if (method === undefined) throw new NotFoundError(`Method '${p.method!}' not found in service '${service.name}'`);
          return jsonResponse(200, method);
        },
      },
    },
    {
      pattern: ['services', ':name', 'descriptors'],
      methods: { GET: async (_req, p) => protobufResponse(await registry.serviceDescriptors(p.name!)) },
    },
    {
      pattern: ['services', ':name', 'keys', ':key'],
      methods: {
        GET: async (_req, p) => {
          const admin = requireInvocations(invocations);
          if (!admin.instance) throw new RestlessError(Code.Unimplemented, 'Key inspection is not available here');
          const service = await registry.getService(p.name!);
          if (service.instance_type === 'Unkeyed') throw new InvalidArgumentError(`Service '${service.name}' is unkeyed: it has no keys`);
          return jsonResponse(200, await admin.instance(service.name, p.key!));
        },
      },
    },
    {
      pattern: ['invocations'],
      methods: {
        GET: async (req) => {
          const admin = requireInvocations(invocations);
          if (!admin.list) throw new RestlessError(Code.Unimplemented, 'Listing invocations is not available here');
          return jsonResponse(200, await admin.list(listQuery(req.query)));
        },
      },
    },
    {
      pattern: ['invocations', ':id'],
      methods: {
        GET: async (_req, p) => {
          const status = await requireInvocations(invocations).status(p.id!);
          if (status === undefined || status === null) throw new NotFoundError(`Invocation '${p.id!}' not found`);
          return jsonResponse(200, status);
        },
        DELETE: async (req, p) => {
          const admin = requireInvocations(invocations);
          const mode = req.query.get('mode') ?? 'kill';
          if (mode !== 'kill' && mode !== 'cancel') throw new InvalidArgumentError(`Unknown mode '${mode}': use kill or cancel`);
          const result = await admin.kill(p.id!, mode as KillMode);
          return result.body === undefined ? emptyResponse(result.status) : jsonResponse(result.status, result.body);
        },
      },
    },
  ];

  return async (req) => {
    try {
      // The local server stops reading at the limit; API Gateway hands over whole bodies.
      checkBodySize(req.body.length, MAX_ADMIN_BODY_BYTES);
      if (req.path === '/ui' || req.path.startsWith('/ui/')) {
        const file = req.method === 'GET' || req.method === 'HEAD' ? consoleResponse(req.path) : undefined;
        if (file) return file;
      }
      const segments = pathSegments(req.path);
      for (const route of routes) {
        const params = match(route.pattern, segments);
        if (params === undefined) continue;
        // Names become DynamoDB keys; one too long to exist is the client's mistake, not a 500.
        for (const [name, value] of Object.entries(params)) checkNameLength(PARAM_LABELS[name] ?? name, value);
        const handler = route.methods[req.method.toUpperCase()];
        if (handler === undefined) {
          const allow = Object.keys(route.methods).join(', ');
          return jsonResponse(405, { message: `Method ${req.method} not allowed on ${req.path}; allowed: ${allow}`, restate_code: null }, { allow });
        }
        return await handler(req, params);
      }
      return jsonResponse(404, { message: `No route ${req.method} ${req.path}`, restate_code: null });
    } catch (err) {
      return errorResponse(err, req, logError);
    }
  };
}

/** The admin API's error shape, `{"message", "restate_code"}` (also used by the local front's refusals). */
export function adminErrorResponse(err: RestlessError): HttpResponse {
  const extra = err instanceof DeploymentInUseError ? { pinned_invocations: err.pinned } : {};
  return jsonResponse(err.httpStatus, { message: err.message, restate_code: err.restateCode ?? null, ...extra }, err.headers);
}

function errorResponse(err: unknown, req: HttpRequest, logError: (message: string, err: unknown) => void): HttpResponse {
  // 4xx and 501 `unimplemented` are answers, not failures: not logged.
  if (err instanceof RestlessError && (err.httpStatus < 500 || err.code === Code.Unimplemented)) return adminErrorResponse(err);
  logError(`admin ${req.method} ${req.path} failed`, err);
  if (err instanceof RestlessError && err.code === Code.Unavailable) {
    // Our own words, no internals: safe and useful to show.
    return adminErrorResponse(err);
  }
  return jsonResponse(500, { message: 'Internal error', restate_code: null });
}

function requireInvocations(invocations: InvocationAdmin | undefined): InvocationAdmin {
  if (invocations === undefined) throw new RestlessError(Code.Unimplemented, 'Invocation management is not available here');
  return invocations;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function parseJsonObject(body: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch (err) {
    throw new InvalidArgumentError(`Invalid JSON body: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError('The body must be a JSON object');
  return value as Record<string, unknown>;
}

function protobufResponse(bytes: Uint8Array): HttpResponse {
  return { status: 200, headers: { 'content-type': PROTOBUF }, body: bytes };
}

function pathSegments(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return [];
  return trimmed.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new InvalidArgumentError(`Invalid percent-encoding in path segment '${s}'`);
    }
  });
}

function match(pattern: string[], segments: string[]): Params | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p !== s) return undefined;
  }
  return params;
}
