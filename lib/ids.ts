/** Invocation ids: opaque, unique, URL-safe (`inv_` + 128 random bits in base64url, 26 chars). */
import { randomBytes } from 'node:crypto';

const ID_PATTERN = /^inv_[A-Za-z0-9_-]{22}$/;

export function newInvocationId(): string {
  return `inv_${randomBytes(16).toString('base64url')}`;
}

export function isInvocationId(s: string): boolean {
  return ID_PATTERN.test(s);
}

/** The bytes sent as StartMessage.id (stable for the invocation's life; seeds ctx.rand and awakeable ids). */
export function invocationIdBytes(id: string): Uint8Array {
  return new TextEncoder().encode(id);
}

export function invocationIdFromBytes(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
