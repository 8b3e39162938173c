/**
 * Test helpers for the protocol tests: hex, the router SDK's RpcRequest/RpcResponse bodies, and
 * a call into a real SDK 0.8.1 endpoint through its Lambda handler.
 */
import { fromBinary, fromJson, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { RestateEndpoint } from '@restatedev/restate-sdk';

/** Hex of bytes, lower case, no separators. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Bytes of a hex string; spaces are ignored so expectations can be grouped. */
export function unhex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replaceAll(/\s+/g, ''), 'hex'));
}

/**
 * Body of the router SDK's `RpcRequest` (dynrpc.proto, no package): key = 1 string,
 * request = 2 google.protobuf.Value.
 */
export function rpcRequest(request: JsonValue | undefined, key?: string): Uint8Array {
  const w = new BinaryWriter();
  if (key !== undefined) w.tag(1, WireType.LengthDelimited).string(key);
  if (request !== undefined) w.tag(2, WireType.LengthDelimited).bytes(toBinary(ValueSchema, fromJson(ValueSchema, request)));
  return w.finish();
}

/** Body of `RpcResponse`: response = 1 google.protobuf.Value. */
export function rpcResponse(response: JsonValue): Uint8Array {
  return new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .bytes(toBinary(ValueSchema, fromJson(ValueSchema, response)))
    .finish();
}

/** Reads the JSON out of an `RpcResponse` body (undefined when the field is absent). */
export function readRpcResponse(body: Uint8Array): JsonValue | undefined {
  const r = new BinaryReader(body);
  let out: JsonValue | undefined;
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) out = toJson(ValueSchema, fromBinary(ValueSchema, r.bytes()));
    else r.skip(wireType);
  }
  return out;
}

export interface LambdaResult {
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Calls an SDK endpoint's `lambdaHandler()` in process, as the runtime's Lambda client would. */
export async function callLambda(endpoint: RestateEndpoint, path: string, body: Uint8Array): Promise<LambdaResult> {
  const handler = endpoint.lambdaHandler();
  const event = { path, httpMethod: 'POST', headers: {}, body: Buffer.from(body).toString('base64'), isBase64Encoded: true };
  const out = (await handler(event, { awsRequestId: 'test' })) as {
    statusCode: number;
    headers?: Record<string, string>;
    body?: string;
    isBase64Encoded?: boolean;
  };
  return {
    statusCode: out.statusCode,
    headers: out.headers ?? {},
    body: new Uint8Array(Buffer.from(out.body ?? '', out.isBase64Encoded === false ? 'utf8' : 'base64')),
  };
}
