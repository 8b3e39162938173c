/** Invocation ids: opaque, unique, URL-safe (`inv_` + 128 random bits in base64url, 26 chars). */
import { randomFillSync } from 'node:crypto';

const ID_PATTERN = /^inv_[A-Za-z0-9_-]{22}$/;

// Random bytes drawn 4 KB at a time (as crypto.randomUUID does): one call per id costs a trip
// into OpenSSL's generator on every request.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

export function newInvocationId(): string {
  if (poolAt + 16 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += 16;
  return `inv_${pool.toString('base64url', poolAt - 16, poolAt)}`;
}

export function isInvocationId(s: string): boolean {
  return ID_PATTERN.test(s);
}

/** The bytes sent as StartMessage.id (stable for the invocation's life; seeds ctx.rand and awakeable ids). */
export function invocationIdBytes(id: string): Uint8Array {
  return Buffer.from(id, 'utf8');
}

export function invocationIdFromBytes(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
