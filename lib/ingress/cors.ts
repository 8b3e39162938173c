/** CORS for browser callers (Connect and gRPC-web from a web page). */
import { emptyResponse, type HttpRequest, type HttpResponse } from '../http/types.js';

const ALLOWED_HEADERS = 'content-type, connect-protocol-version, connect-timeout-ms, x-grpc-web, x-user-agent, grpc-timeout, idempotency-key, idempotency-retention-period, traceparent, tracestate';
const EXPOSED_HEADERS = 'x-restate-id, idempotency-expires, grpc-status, grpc-message, grpc-status-details-bin';

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
    'access-control-allow-methods': 'POST, GET, OPTIONS',
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-max-age': '7200',
  });
}
