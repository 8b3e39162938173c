/**
 * Document ↔ wire translation for the lean client, with the DocumentClient's rules: the same
 * paths of each operation are (un)marshalled with @aws-sdk/util-dynamodb and the same options,
 * so the outputs are the objects the DocumentClient returns. Binary travels as base64.
 */
import { marshall, unmarshall, type marshallOptions, type unmarshallOptions } from '@aws-sdk/util-dynamodb';

/**
 * Where attribute values sit in an input or output (lib-dynamodb's key nodes): `value` is one
 * attribute value; `all` an object or array whose every member is one; `each` applies its nodes
 * to every member; `fields` descends into the named fields only and copies the rest.
 */
export type KeyNodes = { kind: 'value' } | { kind: 'all' } | { kind: 'each'; nodes: KeyNodes } | { kind: 'fields'; fields: Record<string, KeyNodes> };

const VALUE: KeyNodes = { kind: 'value' };
const ALL: KeyNodes = { kind: 'all' };
const each = (nodes: KeyNodes): KeyNodes => ({ kind: 'each', nodes });
const fields = (f: Record<string, KeyNodes>): KeyNodes => ({ kind: 'fields', fields: f });

/** The legacy `Expected` conditions. */
const EXPECTED = each(fields({ Value: VALUE, AttributeValueList: ALL }));
const ITEM_COLLECTION_METRICS = fields({ ItemCollectionKey: ALL });
const WRITE_REQUEST = fields({ PutRequest: fields({ Item: ALL }), DeleteRequest: fields({ Key: ALL }) });

/** Per operation: where attribute values sit in its input and its output. */
export const OPERATION_NODES = {
  GetItem: { input: fields({ Key: ALL }), output: fields({ Item: ALL }) },
  PutItem: {
    input: fields({ Item: ALL, Expected: EXPECTED, ExpressionAttributeValues: ALL }),
    output: fields({ Attributes: ALL, ItemCollectionMetrics: ITEM_COLLECTION_METRICS }),
  },
  UpdateItem: {
    input: fields({ Key: ALL, AttributeUpdates: each(fields({ Value: VALUE })), Expected: EXPECTED, ExpressionAttributeValues: ALL }),
    output: fields({ Attributes: ALL, ItemCollectionMetrics: ITEM_COLLECTION_METRICS }),
  },
  DeleteItem: {
    input: fields({ Key: ALL, Expected: EXPECTED, ExpressionAttributeValues: ALL }),
    output: fields({ Attributes: ALL, ItemCollectionMetrics: ITEM_COLLECTION_METRICS }),
  },
  Query: {
    input: fields({
      KeyConditions: each(fields({ AttributeValueList: ALL })),
      QueryFilter: each(fields({ AttributeValueList: ALL })),
      ExclusiveStartKey: ALL,
      ExpressionAttributeValues: ALL,
    }),
    output: fields({ Items: each(ALL), LastEvaluatedKey: ALL }),
  },
  Scan: {
    input: fields({ ScanFilter: each(fields({ AttributeValueList: ALL })), ExclusiveStartKey: ALL, ExpressionAttributeValues: ALL }),
    output: fields({ Items: each(ALL), LastEvaluatedKey: ALL }),
  },
  BatchGetItem: {
    input: fields({ RequestItems: each(fields({ Keys: each(ALL) })) }),
    output: fields({ Responses: each(each(ALL)), UnprocessedKeys: each(fields({ Keys: each(ALL) })) }),
  },
  BatchWriteItem: {
    input: fields({ RequestItems: each(each(WRITE_REQUEST)) }),
    output: fields({ UnprocessedItems: each(each(WRITE_REQUEST)), ItemCollectionMetrics: each(each(ITEM_COLLECTION_METRICS)) }),
  },
  TransactWriteItems: {
    input: fields({
      TransactItems: each(
        fields({
          ConditionCheck: fields({ Key: ALL, ExpressionAttributeValues: ALL }),
          Put: fields({ Item: ALL, ExpressionAttributeValues: ALL }),
          Delete: fields({ Key: ALL, ExpressionAttributeValues: ALL }),
          Update: fields({ Key: ALL, ExpressionAttributeValues: ALL }),
        }),
      ),
    }),
    output: fields({ ItemCollectionMetrics: each(each(ITEM_COLLECTION_METRICS)) }),
  },
  TransactGetItems: {
    input: fields({ TransactItems: each(fields({ Get: fields({ Key: ALL }) })) }),
    output: fields({ Responses: each(fields({ Item: ALL })) }),
  },
} satisfies Record<string, { input: KeyNodes; output: KeyNodes }>;

export type Operation = keyof typeof OPERATION_NODES;

/** The DocumentClient options the runtime has always used (plus the two lib-dynamodb always sets). */
export const MARSHALL_OPTIONS: marshallOptions = { removeUndefinedValues: true, convertEmptyValues: false, convertTopLevelContainer: true };
export const UNMARSHALL_OPTIONS: unmarshallOptions = { wrapNumbers: false, convertWithoutMapWrapper: true };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;

/**
 * Applies `fn` to every attribute value under `nodes`, copying the containers on the way (the
 * caller's objects are never changed). Functions are dropped and undefined members left out, as
 * lib-dynamodb does.
 */
function transform(value: unknown, nodes: KeyNodes, fn: (v: unknown) => unknown): unknown {
  if (value === undefined) return undefined;
  if (nodes.kind === 'value') return fn(value);
  if (!isObj(value)) return value;
  switch (nodes.kind) {
    case 'all': {
      if (Array.isArray(value)) return value.filter((v) => typeof v !== 'function').map((v) => (v === undefined ? undefined : fn(v)));
      const out: Obj = {};
      for (const k in value) {
        const v = value[k];
        if (v === undefined || typeof v === 'function') continue;
        const next = fn(v);
        if (next !== undefined) out[k] = next;
      }
      return out;
    }
    case 'each': {
      const out: Obj = Array.isArray(value) ? ([] as unknown as Obj) : {};
      for (const k of Object.keys(value)) if (typeof value[k] !== 'function') out[k] = transform(value[k], nodes.nodes, fn);
      return out;
    }
    case 'fields': {
      const out: Obj = {};
      for (const k in value) if (typeof value[k] !== 'function') out[k] = value[k];
      for (const k in nodes.fields) {
        const next = transform(value[k], nodes.fields[k]!, fn);
        if (next !== undefined) out[k] = next;
      }
      return out;
    }
  }
}

/** The document input of an operation → its wire JSON (attribute values marshalled, binary as base64). */
export function encodeInput(op: Operation, input: object): string {
  return JSON.stringify(transform(input, OPERATION_NODES[op].input, toWire));
}

/** A parsed wire output → the document output (attribute values unmarshalled, binary as Uint8Array). */
export function decodeOutput(op: Operation, wire: Obj): Obj {
  return transform(wire, OPERATION_NODES[op].output, fromWire) as Obj;
}

/**
 * One document value → its wire attribute value. The kinds the runtime stores (strings, safe
 * numbers, booleans, null, bytes, arrays, plain objects) are converted here directly;
 * util-dynamodb's generic checks allocate on every number and every value. Anything else (sets,
 * Maps, NumberValue, bigint, unsafe numbers, class instances) goes to util-dynamodb, errors
 * included, so the rules stay exactly the DocumentClient's.
 */
export function toWire(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
      return { S: v };
    case 'number':
      return v <= Number.MAX_SAFE_INTEGER && v >= Number.MIN_SAFE_INTEGER ? { N: String(v) } : generic(v);
    case 'boolean':
      return { BOOL: v };
    case 'object': {
      if (v === null) return { NULL: true };
      if (Array.isArray(v)) {
        const L: unknown[] = [];
        for (const item of v as unknown[]) if (item !== undefined && typeof item !== 'function') L.push(toWire(item));
        return { L };
      }
      const ctor = (v as { constructor?: unknown }).constructor;
      if (ctor === Uint8Array || ctor === Buffer) return { B: base64(v as Uint8Array) };
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto === Object.prototype || proto === null) {
        const M: Obj = {};
        for (const k in v as Obj) {
          const item = (v as Obj)[k];
          if (item !== undefined && typeof item !== 'function') M[k] = toWire(item);
        }
        return { M };
      }
      return generic(v);
    }
    default:
      return generic(v);
  }
}

function generic(v: unknown): unknown {
  return valueToWire(marshall(v, MARSHALL_OPTIONS));
}

/** One wire attribute value → its document value, as util-dynamodb's unmarshall (which takes the rare kinds). */
export function fromWire(av: unknown): unknown {
  if (!isObj(av)) return unmarshall(av as never, UNMARSHALL_OPTIONS);
  if (typeof av.S === 'string') return av.S;
  if (typeof av.N === 'string') {
    const n = Number(av.N);
    // Beyond the safe integers util-dynamodb returns a BigInt (or throws): let it.
    return n > Number.MAX_SAFE_INTEGER || n < Number.MIN_SAFE_INTEGER ? unmarshall(av as never, UNMARSHALL_OPTIONS) : n;
  }
  if (typeof av.BOOL === 'boolean') return av.BOOL;
  if (av.NULL !== undefined) return null;
  if (isObj(av.M) && !Array.isArray(av.M)) {
    const out: Obj = {};
    for (const k in av.M) out[k] = fromWire(av.M[k]);
    return out;
  }
  if (Array.isArray(av.L)) return av.L.map(fromWire);
  if (typeof av.B === 'string') return bytes(av.B);
  return unmarshall(valueFromWire(av) as never, UNMARSHALL_OPTIONS);
}

/** Binary → base64 in one freshly marshalled attribute value (its wrappers are ours to change). */
export function valueToWire(av: unknown): unknown {
  if (!isObj(av)) return av;
  if (av.B instanceof Uint8Array) av.B = base64(av.B);
  else if (Array.isArray(av.BS)) av.BS = av.BS.map((b: unknown) => (b instanceof Uint8Array ? base64(b) : b));
  else if (Array.isArray(av.L)) av.L.forEach(valueToWire);
  else if (isObj(av.M)) for (const k in av.M) valueToWire(av.M[k]);
  return av;
}

/** Base64 → Uint8Array, in place, in one parsed attribute value. */
export function valueFromWire(av: unknown): unknown {
  if (!isObj(av)) return av;
  if (typeof av.B === 'string') av.B = bytes(av.B);
  else if (Array.isArray(av.BS)) av.BS = av.BS.map((b: unknown) => (typeof b === 'string' ? bytes(b) : b));
  else if (Array.isArray(av.L)) av.L.forEach(valueFromWire);
  else if (isObj(av.M)) for (const k in av.M) valueFromWire(av.M[k]);
  return av;
}

/** Base64 → Uint8Array in a parsed map of attribute values (an item or key in an error). */
export function mapFromWire(map: unknown): unknown {
  if (isObj(map)) for (const k in map) valueFromWire(map[k]);
  return map;
}

function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** A plain Uint8Array (not a Buffer), as the SDK's deserializer returns. */
function bytes(s: string): Uint8Array {
  const buf = Buffer.from(s, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
