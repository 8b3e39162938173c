/**
 * The lean client's own attribute-value conversion against util-dynamodb's (which the
 * DocumentClient uses): the same wire JSON out, the same documents back, the same errors.
 */
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { fromWire, MARSHALL_OPTIONS, toWire, UNMARSHALL_OPTIONS, valueFromWire, valueToWire } from '../../../lib/store/dynamo/codec.js';

/** util-dynamodb's marshalling, with binary as base64 as it travels (the lean client's former path). */
function sdkWire(v: unknown): string {
  return JSON.stringify(valueToWire(marshall(v, MARSHALL_OPTIONS)));
}

function outcome(f: () => unknown): { ok: string } | { error: string } {
  try {
    return { ok: JSON.stringify(f(), (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Set ? [...(x as Set<unknown>)] : x)) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

class Thing {
  a = 1;
}

const VALUES: [string, unknown][] = [
  ['a string', 'héllo ✓ "quoted"'],
  ['an empty string', ''],
  ['an integer', 42],
  ['a negative float', -3.25],
  ['zero', 0],
  ['the largest safe integer', Number.MAX_SAFE_INTEGER],
  ['an unsafe integer', Number.MAX_SAFE_INTEGER + 2],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['a bigint', 12345678901234567890n],
  ['a NumberValue', new NumberValue('1234567890123456789012')],
  ['true', true],
  ['false', false],
  ['null', null],
  ['bytes', new Uint8Array([0, 1, 2, 255])],
  ['a Buffer', Buffer.from('abc')],
  ['empty bytes', new Uint8Array()],
  ['a list with undefined and functions', [1, undefined, 'x', () => 1, null, [true]]],
  ['an empty list', []],
  ['a map with undefined and functions', { a: 1, b: undefined, c: () => 2, d: { e: new Uint8Array([9]) } }],
  ['an empty map', {}],
  ['a map without prototype', Object.assign(Object.create(null) as object, { x: 'y' })],
  ['a string set', new Set(['a', 'b'])],
  ['a number set', new Set([1, 2])],
  ['a binary set', new Set([new Uint8Array([1]), new Uint8Array([2])])],
  ['an empty set', new Set()],
  ['a Map', new Map<string, unknown>([['k', 1]])],
  ['a class instance', new Thing()],
  ['a Number object', new Number(7)],
  ['an unsafe number deep inside', { a: [{ b: 2 ** 60 }] }],
];

describe('toWire', () => {
  it.each(VALUES)('marshals %s as util-dynamodb does', (_name, v) => {
    expect(outcome(() => JSON.stringify(toWire(v)))).toEqual(outcome(() => sdkWire(v)));
  });
});

describe('fromWire', () => {
  const WIRE: [string, unknown][] = [
    ...VALUES.flatMap(([name, v]): [string, unknown][] => {
      try {
        return [[name, JSON.parse(sdkWire(v)) as unknown]];
      } catch {
        return [];
      }
    }),
    ['a number beyond the safe integers', { N: '123456789012345678901234567890' }],
    ['a number too large for a double', { N: '1e400' }],
    ['a number that is not one', { N: 'abc' }],
    ['an unknown type', { X: 1 }],
    ['no value', {}],
    ['NULL false', { NULL: false }],
  ];
  it.each(WIRE)('unmarshals %s as util-dynamodb does', (_name, wire) => {
    const sdk = outcome(() => unmarshall(valueFromWire(structuredClone(wire)) as never, UNMARSHALL_OPTIONS));
    expect(outcome(() => fromWire(structuredClone(wire)))).toEqual(sdk);
  });
});
