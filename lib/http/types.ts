/**
 * The one neutral HTTP shape the core sees. Adapters convert API Gateway v2 events
 * (lib/http/apigw.ts) and Node requests (lib/http/node.ts) into it and back.
 */
export interface HttpRequest {
  method: string;
  /** Path without the query string, e.g. `/org.example.Greeter/Greet`. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased names. */
  headers: Headers;
  body: Uint8Array;
  /** Fires when the host gives up on the request (client gone, Lambda about to time out). */
  signal?: AbortSignal;
  /**
   * When the front door received the request (API Gateway's `requestContext.timeEpoch`), if it
   * says. Deadlines count from here: a cold start before the handler ran is not free time.
   */
  receivedAtMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse>;

const encoder = new TextEncoder();

export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: encoder.encode(JSON.stringify(value)),
  };
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers, body: new Uint8Array(0) };
}
