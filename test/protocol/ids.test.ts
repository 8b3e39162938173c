/** Invocation ids: drawn from a pool of random bytes, so the pool's refill must not repeat or shorten any. */
import { describe, expect, it } from 'vitest';
import { invocationIdBytes, invocationIdFromBytes, isInvocationId, newInvocationId } from '../../lib/ids.js';

describe('newInvocationId', () => {
  it('gives well-formed ids that never repeat, across many refills of the random pool', () => {
    const ids = Array.from({ length: 5_000 }, newInvocationId); // 80 KB of randomness: ~20 refills
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every(isInvocationId)).toBe(true);
    // 128 random bits each: no byte position stuck (a pool read at the wrong offset would show).
    const firstChars = new Set(ids.map((id) => id[4]));
    expect(firstChars.size).toBeGreaterThan(50);
  });

  it('round-trips through the bytes sent to the endpoint', () => {
    const id = newInvocationId();
    expect(invocationIdFromBytes(invocationIdBytes(id))).toBe(id);
  });
});
