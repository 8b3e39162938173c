/**
 * CORS for browser callers (Connect and gRPC-web from a web page). The one source of the CORS
 * rules: the local servers answer with them here, and the construct configures API Gateway's
 * preflight from the same constants.
 */
import { emptyResponse, type HttpRequest, type HttpResponse } from '../http/types.js';

/** Headers a browser (Connect, gRPC-web) may send. */
export const CORS_ALLOW_HEADERS = [
  'content-type',
  'connect-protocol-version',
  'connect-timeout-ms',
  'grpc-timeout',
  'x-grpc-web',
  'x-user-agent',
  'idempotency-key',
  'idempotency-retention-period',
  'traceparent',
  'tracestate',
  // Only used when the ingress has an authorizer on AWS (JWT bearer, SigV4).
  'authorization',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
] as const;
/** Headers a browser may read. */
export const CORS_EXPOSE_HEADERS = ['x-restate-id', 'idempotency-expires', 'grpc-status', 'grpc-message', 'grpc-status-details-bin'] as const;
export const CORS_ALLOW_METHODS = ['POST', 'GET', 'OPTIONS'] as const;
/** How long a browser may reuse a preflight answer (Chromium caps it at 2 h). */
export const CORS_MAX_AGE_SECONDS = 7200;

const ALLOWED_HEADERS = CORS_ALLOW_HEADERS.join(', ');
const EXPOSED_HEADERS = CORS_EXPOSE_HEADERS.join(', ');

function allowedOrigin(origin: string, allowed: string[]): string | undefined {
  if (allowed.includes('*')) return '*';
  return allowed.includes(origin) ? origin : undefined;
}

export function corsHeaders(origin: string, allowed: string[]): Record<string, string> {
  const value = allowedOrigin(origin, allowed);
  if (!value) return {};
  return { 'access-control-allow-origin': value, 'access-control-expose-headers': EXPOSED_HEADERS, ...(value === '*' ? {} : { vary: 'origin' }) };
}

export function preflight(req: HttpRequest, allowed: string[]): HttpResponse {
  const origin = req.headers.get('origin');
  if (!origin || !allowedOrigin(origin, allowed)) return emptyResponse(403);
  return emptyResponse(204, {
    ...corsHeaders(origin, allowed),
    'access-control-allow-methods': CORS_ALLOW_METHODS.join(', '),
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
  });
}
