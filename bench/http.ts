/**
 * The benchmark's HTTP client: Node's global fetch (undici, keep-alive connections reused across
 * calls), JSON in and out, timed from request start to the last body byte.
 */
export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<CallResult> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, ms: performance.now() - started };
}

/** Not-implemented answers: the feature is not in this build. */
export function isUnavailable(status: number): boolean {
  return status === 404 || status === 501;
}
