/** Header handling shared by both transports. */

/** Connection-specific headers that HTTP/2 forbids (and a Lambda event never needs). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);

/**
 * The headers sent to an endpoint: the registration's `additional_headers` first, then the
 * request's own (content-type, accept, traceparent), which win on a clash because the protocol
 * depends on them. Names are lower-cased; hop-by-hop headers are dropped.
 */
export function mergeHeaders(additional: Record<string, string>, request: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const source of [additional, request]) {
    for (const [name, value] of Object.entries(source)) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || lower.startsWith(':')) continue;
      out[lower] = value;
    }
  }
  return out;
}

/** Lower-cases names and keeps string values only (joins arrays the way HTTP does). */
export function normalizeResponseHeaders(headers: Record<string, unknown> | undefined | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined || headers === null || typeof headers !== 'object') return out;
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':')) continue;
    if (typeof value === 'string') out[name.toLowerCase()] = value;
    else if (typeof value === 'number') out[name.toLowerCase()] = String(value);
    else if (Array.isArray(value)) out[name.toLowerCase()] = value.map(String).join(', ');
  }
  return out;
}
