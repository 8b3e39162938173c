/**
 * The harness's HTTP client for the ingress and admin APIs: never throws, always says how a call
 * ended (an answer, a timeout, a broken connection, or a disconnect the harness chose).
 */
export type CallOutcome =
  | { kind: 'answer'; status: number; id?: string; text: string; json: unknown; at: number }
  | { kind: 'failed'; reason: 'timeout' | 'disconnected' | 'network'; message: string; at: number };

export interface CallOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
  /** The client goes away after this long (the harness's "client disconnect" fault). */
  disconnectAfterMs?: number;
}

export async function request(method: string, url: string, body: unknown, opts: CallOptions): Promise<CallOutcome> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const disconnect = new AbortController();
  const timer = opts.disconnectAfterMs !== undefined ? setTimeout(() => disconnect.abort(), opts.disconnectAfterMs) : undefined;
  try {
    const res = await fetch(url, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.any([timeout, disconnect.signal]),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { kind: 'answer', status: res.status, id: res.headers.get('x-restate-id') ?? undefined, text, json, at: Date.now() };
  } catch (err) {
    const reason = disconnect.signal.aborted ? 'disconnected' : timeout.aborted ? 'timeout' : 'network';
    return { kind: 'failed', reason, message: (err as Error).message, at: Date.now() };
  } finally {
    clearTimeout(timer);
  }
}

/** The Connect error code of an error answer (`{"code": …}`), if any. */
export function connectCode(outcome: CallOutcome): string | undefined {
  if (outcome.kind !== 'answer' || outcome.status === 200) return undefined;
  const code = (outcome.json as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Deep equality of two JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
