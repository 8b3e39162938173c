import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { decodeAwakeableId, encodeAwakeableId } from '../../lib/protocol/awakeable-id.js';

const ID = new TextEncoder().encode('0123456789abcdef01234567');
/** The verified example of docs/protocol.md (§3.7): SDK 0.8.1 gave this id for entry 1 of invocation ID. */
const EXAMPLE = 'prom_1MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3AAAAAQ';

describe('encodeAwakeableId', () => {
  it('matches the id SDK 0.8.1 hands out', () => {
    expect(encodeAwakeableId(ID, 1)).toBe(EXAMPLE);
  });

  it('writes the index as u32 big-endian after the id bytes', () => {
    const id = encodeAwakeableId(new Uint8Array([0xff]), 0x01020304);
    expect(Buffer.from(id.slice('prom_1'.length), 'base64url').toString('hex')).toBe('ff01020304');
  });

  it('refuses an index that does not fit u32', () => {
    expect(() => encodeAwakeableId(ID, -1)).toThrow(RangeError);
    expect(() => encodeAwakeableId(ID, 2 ** 32)).toThrow(RangeError);
  });
});

describe('decodeAwakeableId', () => {
  it.each([
    { $case: 'without padding', id: EXAMPLE },
    { $case: 'with padding', id: `${EXAMPLE}==` },
  ])('decodes the SDK example $$case', ({ id }) => {
    expect(decodeAwakeableId(id)).toEqual({ invocationIdBytes: ID, entryIndex: 1 });
  });

  it.each([
    { $case: 'no prefix (the v0 form)', id: EXAMPLE.slice('prom_1'.length) },
    { $case: 'another prefix version', id: `prom_2${EXAMPLE.slice(6)}` },
    { $case: 'standard base64 characters', id: 'prom_1MDEy+zQ1/jc4AAAAAQ' },
    { $case: 'a character outside base64', id: `${EXAMPLE.slice(0, 10)}!${EXAMPLE.slice(11)}` },
    { $case: 'a length of 4n+1 characters', id: `${EXAMPLE}AAA` },
    { $case: 'wrong padding', id: `${EXAMPLE}=` },
    { $case: 'padding inside', id: 'prom_1MD=EyMzQ1' },
    { $case: 'stray bits in the last character', id: `${EXAMPLE.slice(0, -1)}R` },
    { $case: 'only an index', id: encodeAwakeableId(new Uint8Array(), 1) },
    { $case: 'nothing', id: 'prom_1' },
    { $case: 'the empty string', id: '' },
  ])('refuses $$case with InvalidArgumentError', ({ id }) => {
    expect(() => decodeAwakeableId(id)).toThrow(InvalidArgumentError);
  });

  it('decodes every id it encodes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat({ max: 0xffff_ffff }), (bytes, index) => {
        expect(decodeAwakeableId(encodeAwakeableId(bytes, index))).toEqual({ invocationIdBytes: bytes, entryIndex: index });
      }),
    );
  });

  it('answers any string with parts or InvalidArgumentError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        for (const id of [text, `prom_1${text}`]) {
          try {
            decodeAwakeableId(id);
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidArgumentError);
          }
        }
      }),
    );
  });
});
