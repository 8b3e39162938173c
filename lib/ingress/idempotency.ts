/**
 * Idempotency keys. A call with `idempotency-key` gets a deterministic invocation id derived from
 * its scope (service + method [+ key] + idempotency key), so the accept write itself is the
 * at-most-once check: no separate record, no extra write. A duplicate costs one read (or, when
 * it races the first, the failed conditional write that tells it so, with the record attached).
 *
 *   first call ─ GetItem (miss) ─ Put inv (cond: absent or expired) ─ drive ─ result kept N s
 *   duplicate  ─ GetItem (hit)  ─ same request? ─ result, or attach and wait ─ same answer
 */
import { createHash } from 'node:crypto';
import type { RuntimeConfig } from '../config.js';
import { InvalidArgumentError } from '../errors.js';
import type { IdempotencyLink } from '../store/invocation-store.js';
import { fromBinary, toJson } from '@bufbuild/protobuf';
import type { ResolvedMethod, ResolvedService } from '../registry/types.js';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const RETENTION_HEADER = 'idempotency-retention-period';

export interface IdempotencyRequest {
  key: string;
  retentionSec: number;
}

/** Reads the headers; undefined when the call is not idempotent. Malformed values are 400. */
export function idempotencyOf(headers: Headers, config: RuntimeConfig): IdempotencyRequest | undefined {
  const key = headers.get(IDEMPOTENCY_KEY_HEADER);
  const rawRetention = headers.get(RETENTION_HEADER);
  if (key === null) {
    if (rawRetention !== null) throw new InvalidArgumentError(`'${RETENTION_HEADER}' needs an '${IDEMPOTENCY_KEY_HEADER}'`);
    return undefined;
  }
  if (key.length === 0) throw new InvalidArgumentError(`'${IDEMPOTENCY_KEY_HEADER}' must not be empty`);
  if (key.length > 512) throw new InvalidArgumentError(`'${IDEMPOTENCY_KEY_HEADER}' is longer than 512 characters`);
  let retentionSec = config.idempotencyDefaultRetentionSec;
  if (rawRetention !== null) {
    const trimmed = rawRetention.trim();
    if (!/^\d+$/.test(trimmed)) throw new InvalidArgumentError(`bad '${RETENTION_HEADER}' '${rawRetention}': expected a non-negative whole number of seconds`);
    const n = Number(trimmed);
    if (!Number.isSafeInteger(n) || n > config.idempotencyMaxRetentionSec) {
      throw new InvalidArgumentError(`bad '${RETENTION_HEADER}' '${rawRetention}': at most ${config.idempotencyMaxRetentionSec} seconds are allowed`);
    }
    // 0 means the default, as in the 0.x runtime.
    retentionSec = n === 0 ? config.idempotencyDefaultRetentionSec : n;
  }
  return { key, retentionSec };
}

function sha256(parts: (string | Uint8Array)[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
    h.update('\u0000');
  }
  return h.digest();
}

/** The scope of a key: the same key on another method or another key of a keyed service is another call. */
export function idempotencyScope(service: string, method: string, instanceKey: string | undefined, key: string): string {
  return JSON.stringify([service, method, instanceKey ?? null, key]);
}

/** The invocation id of an idempotent call: the same scope always maps to the same id. */
export function idempotentInvocationId(scope: string): string {
  return `inv_${sha256(['restless-idempotency', scope]).subarray(0, 16).toString('base64url')}`;
}

/** Fingerprint of the request, to refuse a reused key with another body. */
export function requestHash(method: string, input: Uint8Array | string): string {
  return sha256([method, input]).toString('base64url');
}

/**
 * The request in a form that does not depend on how the client spelled it: protobuf bytes of a
 * map or a Struct follow the client's key order (`{"a":1,"b":2}` and `{"b":2,"a":1}` differ), so
 * the message is read and written back as JSON with sorted keys.
 */
export function canonicalRequest(method: ResolvedMethod, registry: ResolvedService['registry'] | undefined, input: Uint8Array): string | Uint8Array {
  try {
    const json = toJson(method.input, fromBinary(method.input, input), { registry });
    return stableStringify(json);
  } catch {
    return input; // not decodable here: the bytes themselves
  }
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function idempotencyLink(scope: string, hash: string, retentionSec: number): IdempotencyLink {
  return { scope, requestHash: hash, retentionSec };
}

/** RFC 3339, second precision: when the kept response is dropped. */
export function expiresHeader(completedAtMs: number, retentionSec: number): string {
  return new Date(Math.ceil(completedAtMs / 1000) * 1000 + retentionSec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The id and record link of an idempotent call (scope: service + method [+ key] + idempotency key). */
export function idempotentOptions(service: ResolvedService, method: ResolvedMethod, input: { bytes: Uint8Array; key: string }, idem: IdempotencyRequest) {
  const keyed = service.meta.instance_type === 'Keyed';
  const scope = idempotencyScope(service.meta.name, method.name, keyed ? input.key : undefined, idem.key);
  const hash = requestHash(method.name, canonicalRequest(method, service.registry, input.bytes));
  return { id: idempotentInvocationId(scope), idempotency: idempotencyLink(scope, hash, idem.retentionSec), retentionSec: idem.retentionSec };
}
