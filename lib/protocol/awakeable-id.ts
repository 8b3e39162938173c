/**
 * Awakeable ids as SDK 0.8.1 hands them out (docs/protocol.md §3.7):
 *
 * ```
 * "prom_1" + base64url_nopad( StartMessage.id ‖ u32_be(entry index) )
 * ```
 *
 * e.g. id = ASCII `0123456789abcdef01234567`, index 1 →
 * `prom_1MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3AAAAAQ`. The invocation id length is ours to choose;
 * decoding takes everything but the last 4 bytes as the id.
 */
import { InvalidArgumentError } from '../errors.js';

export const AWAKEABLE_ID_PREFIX = 'prom_1';

const INDEX_LENGTH = 4;

export interface AwakeableIdParts {
  invocationIdBytes: Uint8Array;
  entryIndex: number;
}

/** Builds the awakeable id of entry `entryIndex` of the invocation with these id bytes. */
export function encodeAwakeableId(invocationIdBytes: Uint8Array, entryIndex: number): string {
  if (!Number.isInteger(entryIndex) || entryIndex < 0 || entryIndex > 0xffff_ffff) {
    throw new RangeError(`entry index out of range: ${entryIndex}`);
  }
  const payload = new Uint8Array(invocationIdBytes.length + INDEX_LENGTH);
  payload.set(invocationIdBytes, 0);
  new DataView(payload.buffer).setUint32(invocationIdBytes.length, entryIndex);
  return AWAKEABLE_ID_PREFIX + Buffer.from(payload).toString('base64url');
}

/**
 * Splits an awakeable id into invocation id bytes and entry index. Padding is optional. Throws
 * InvalidArgumentError for anything that is not an id we could have handed out.
 */
export function decodeAwakeableId(id: string): AwakeableIdParts {
  if (id === '') throw new InvalidArgumentError(`the awakeable id is missing: give the id the handler got from ctx.awakeable() ('${AWAKEABLE_ID_PREFIX}…')`);
  if (!id.startsWith(AWAKEABLE_ID_PREFIX)) {
    throw new InvalidArgumentError(`invalid awakeable id: missing prefix '${AWAKEABLE_ID_PREFIX}'`);
  }
  const encoded = id.slice(AWAKEABLE_ID_PREFIX.length);
  // Node's base64url decoder skips characters outside the alphabet, so check the text first.
  // A final group of 1 character cannot encode a byte; padding only completes a group of 4.
  const match = /^([A-Za-z0-9_-]*)(=*)$/.exec(encoded);
  const body = match?.[1] ?? '';
  const padding = match?.[2] ?? '';
  const valid = match !== null && body.length % 4 !== 1 && (padding.length === 0 || (body.length + padding.length) % 4 === 0) && padding.length <= 2;
  if (!valid) {
    throw new InvalidArgumentError('invalid awakeable id: not base64url');
  }
  const payload = Buffer.from(body, 'base64url');
  // Reject non-canonical text (stray bits in the last character) so one id has one spelling.
  if (payload.toString('base64url') !== body) {
    throw new InvalidArgumentError('invalid awakeable id: not canonical base64url');
  }
  if (payload.length <= INDEX_LENGTH) {
    throw new InvalidArgumentError(`invalid awakeable id: ${payload.length} bytes is too short`);
  }
  const split = payload.length - INDEX_LENGTH;
  return {
    invocationIdBytes: new Uint8Array(payload.subarray(0, split)),
    entryIndex: payload.readUInt32BE(split),
  };
}
