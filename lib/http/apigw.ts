/**
 * API Gateway HTTP API (payload 2.0) ⇄ the neutral HTTP shape. The only file that knows the
 * event layout; the Lambda entries and the local runner both go through it.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { isUtf8 } from 'node:buffer';
import type { HttpRequest, HttpResponse } from './types.js';

export type ApiGatewayEvent = APIGatewayProxyEventV2;
export type ApiGatewayResult = APIGatewayProxyStructuredResultV2;

export function requestFromEvent(event: ApiGatewayEvent, signal?: AbortSignal): HttpRequest {
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers.set(name, value);
  }
  if (event.cookies?.length) headers.set('cookie', event.cookies.join('; '));
  const raw = event.body ?? '';
  const body = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  return {
    method: event.requestContext?.http?.method ?? 'GET',
    path: event.rawPath ?? '/',
    query: new URLSearchParams(event.rawQueryString ?? ''),
    headers,
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    signal,
    receivedAtMs: event.requestContext?.timeEpoch,
  };
}

/** Bodies always travel base64: API Gateway decodes them, and binary (proto, gRPC-web) survives. */
export function resultFromResponse(res: HttpResponse): ApiGatewayResult {
  return {
    statusCode: res.status,
    headers: res.headers,
    body: Buffer.from(res.body).toString('base64'),
    isBase64Encoded: true,
  };
}

const TEXT_TYPES = /^(application\/(json|x-www-form-urlencoded|grpc-web-text)|text\/)/i;

/**
 * Builds the event API Gateway would send for a request (used by the local runner and tests).
 * Like API Gateway: lower-cased header names, repeated headers joined with commas, textual
 * bodies as text and anything else base64 with `isBase64Encoded`.
 */
export function eventFromRequest(input: {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
  sourceIp?: string;
}): ApiGatewayEvent {
  const url = splitTarget(input.url);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [rawName, value] of Object.entries(input.headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (name.startsWith(':')) continue; // HTTP/2 pseudo-headers
    if (name === 'cookie') {
      cookies = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(';').map((c) => c.trim()));
      continue;
    }
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const contentType = headers['content-type'] ?? '';
  const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  // A compressed body, or bytes that are not UTF-8, would not survive as text: base64 instead.
  const isText = input.body.length === 0 || (TEXT_TYPES.test(contentType) && encoding === 'identity' && isUtf8(input.body));
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.path,
    rawQueryString: url.query,
    cookies,
    headers,
    queryStringParameters: url.query ? Object.fromEntries(new URLSearchParams(url.query)) : undefined,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method: input.method, path: url.path, protocol: 'HTTP/1.1', sourceIp: input.sourceIp ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: `local-${now.getTime()}-${Math.random().toString(36).slice(2, 10)}`,
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: input.body.length === 0 ? undefined : isText ? Buffer.from(input.body).toString('utf8') : Buffer.from(input.body).toString('base64'),
    isBase64Encoded: !isText,
  };
}

/**
 * Path and query of a request target, as sent: `//a/b` stays a path (the URL parser would read a
 * host), an absolute-form target (`http://h/p`) gives its path, and nothing here ever throws.
 */
function splitTarget(target: string): { path: string; query: string } {
  let t = target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(t);
  if (absolute) t = t.slice(absolute[0].length) || '/';
  const q = t.indexOf('?');
  return q < 0 ? { path: t, query: '' } : { path: t.slice(0, q), query: t.slice(q + 1) };
}

/** Reads a Lambda result back into status, headers and body bytes (payload 2.0 inference rules). */
export function responseFromResult(result: ApiGatewayResult | string | undefined): HttpResponse {
  if (result === undefined || typeof result === 'string' || result.statusCode === undefined) {
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  const body = result.body === undefined ? Buffer.alloc(0) : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body, 'utf8');
  return { status: result.statusCode, headers, body };
}
