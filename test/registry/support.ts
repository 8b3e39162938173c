/**
 * Real SDK 0.8.1 endpoints for registry tests: an h2c server we can close (the SDK's `listen()`
 * cannot be) and a Lambda endpoint behind a mocked LambdaClient that calls `lambdaHandler()`.
 * Plus hand-made discovery answers for descriptors the SDK cannot produce.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { create, toBinary, type UnknownField } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldOptionsSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  ServiceOptionsSchema,
  type FieldOptions,
  type FileDescriptorProto,
  type ServiceOptions,
} from '@bufbuild/protobuf/wkt';
import * as restate from '@restatedev/restate-sdk';
import { protoMetadata as testProtoMetadata } from '@restatedev/restate-sdk/dist/generated/proto/test.js';
import type { EndpointRequest, EndpointResponse, EndpointTransport } from '../../lib/endpoint/types.js';
import { encodeDiscoveryResponse, type DiscoveryResult } from '../../lib/registry/discovery.js';
import { RESTATE_EXTENSION_NUMBER } from '../../lib/registry/descriptors.js';

export const greeter = restate.router({
  greet: async (_ctx: restate.Context, req: { name?: string }) => `Hello ${req?.name ?? 'nobody'}`,
});

export const counter = restate.keyedRouter({
  add: async (ctx: restate.KeyedContext, _key: string, req: { delta?: number }) => {
    const next = ((await ctx.get<number>('count')) ?? 0) + (req?.delta ?? 1);
    ctx.set('count', next);
    return next;
  },
  get: async (ctx: restate.KeyedContext) => (await ctx.get<number>('count')) ?? 0,
});

/** greeter (unkeyed) + counter (keyed), the classic pair. */
export function routerEndpoint(): restate.RestateEndpoint {
  return restate.endpoint().bindRouter('greeter', greeter).bindKeyedRouter('counter', counter);
}

/** The SDK's bundled `test.TestGreeter` (keyed through the SDK's UninterpretedOption). */
export function testGreeterEndpoint(): restate.RestateEndpoint {
  return restate.endpoint().bindService({
    descriptor: testProtoMetadata,
    service: 'TestGreeter',
    instance: { greet: async (req: { name: string }) => ({ greeting: `Hello ${req.name}` }) },
  });
}

export interface H2cEndpoint {
  uri: string;
  /** Paths the server saw, in order. */
  paths: string[];
  /** Request headers the server saw, in order. */
  headers: http2.IncomingHttpHeaders[];
  /** HTTP/2 sessions (connections) accepted so far. */
  sessionCount(): number;
  close(): Promise<void>;
}

/** Serves `endpoint.http2Handler()` on a free port, optionally under a path prefix. */
export async function startH2cEndpoint(endpoint: restate.RestateEndpoint, prefix = ''): Promise<H2cEndpoint> {
  const handle = endpoint.http2Handler();
  const paths: string[] = [];
  const headers: http2.IncomingHttpHeaders[] = [];
  let sessionCount = 0;
  const server = http2.createServer((req, res) => {
    paths.push(req.url);
    headers.push(req.headers);
    // The SDK matches paths exactly: strip our prefix as a reverse proxy would.
    if (prefix !== '' && req.url.startsWith(prefix)) {
      Object.defineProperty(req, 'url', { value: req.url.slice(prefix.length) });
    }
    handle(req, res);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessionCount++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    uri: `http://127.0.0.1:${port}${prefix}`,
    paths,
    headers,
    sessionCount: () => sessionCount,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export const TEST_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:restless-test';

export interface LambdaEndpoint {
  client: LambdaClient;
  mock: AwsClientStub<LambdaClient>;
  /** Every Invoke payload, parsed. */
  payloads: Record<string, unknown>[];
}

/** A LambdaClient whose Invoke runs the endpoint's `lambdaHandler()` in process. */
export function lambdaEndpoint(endpoint: restate.RestateEndpoint): LambdaEndpoint {
  const handle = endpoint.lambdaHandler();
  const client = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const mock = mockClient(client);
  const payloads: Record<string, unknown>[] = [];
  mock.on(InvokeCommand).callsFake(async (input: { Payload?: Uint8Array }) => {
    const event = JSON.parse(Buffer.from(input.Payload ?? new Uint8Array()).toString('utf8')) as Record<string, unknown>;
    payloads.push(event);
    const result: unknown = await handle(event, { awsRequestId: 'test-request' });
    return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(result)) };
  });
  return { client, mock, payloads };
}

/** A transport answering discovery with a fixed response. */
export function fakeTransport(
  answer: EndpointResponse | ((req: EndpointRequest) => Promise<EndpointResponse>),
): EndpointTransport & { calls: EndpointRequest[] } {
  const calls: EndpointRequest[] = [];
  return {
    calls,
    async call(req) {
      calls.push(req);
      return typeof answer === 'function' ? answer(req) : answer;
    },
  };
}

export function discoveryAnswer(res: Partial<DiscoveryResult>): EndpointResponse {
  return { status: 200, headers: { 'content-type': 'application/proto' }, body: encodeDiscoveryResponse(res) };
}

/** Discovery of a real SDK endpoint through its Lambda handler (raw, unrepaired). */
export async function sdkDiscovery(endpoint: restate.RestateEndpoint): Promise<EndpointResponse> {
  const out = (await endpoint.lambdaHandler()(
    { path: '/discover', httpMethod: 'POST', headers: {}, body: '', isBase64Encoded: true },
    { awsRequestId: 'x' },
  )) as {
    statusCode: number;
    headers: Record<string, string>;
    body: string;
  };
  return { status: out.statusCode, headers: out.headers, body: Buffer.from(out.body, 'base64') };
}

function varintOption(value: number): UnknownField[] {
  return [{ no: RESTATE_EXTENSION_NUMBER, wireType: WireType.Varint, data: new BinaryWriter().int32(value).finish() }];
}

/** FieldOptions carrying `(dev.restate.ext.field) = <value>` as protoc encodes it. */
function fieldOptions(value: number): FieldOptions {
  const options = create(FieldOptionsSchema);
  options.$unknown = varintOption(value);
  return options;
}

/** ServiceOptions carrying `(dev.restate.ext.service_type) = <value>` as protoc encodes it. */
function serviceOptions(value: number): ServiceOptions {
  const options = create(ServiceOptionsSchema);
  options.$unknown = varintOption(value);
  return options;
}

export interface HandBuiltOptions {
  pkg?: string;
  service?: string;
  /** Real extension value on ServiceOptions (KEYED = 1); undefined: no option at all. */
  serviceType?: number;
  /** Mark `id` as KEY (the real extension, value 0). */
  keyField?: boolean;
  /** Type of the `id` field. */
  keyType?: FieldDescriptorProto_Type;
  methods?: string[];
  streaming?: boolean;
  /** Filler messages (about 1 KB each) to make the set big. */
  fillerMessages?: number;
}

/**
 * A protoc-style descriptor (options as real extension fields 51234, not UninterpretedOption),
 * which the SDK never produces.
 */
export function handBuiltFile(opts: HandBuiltOptions = {}): FileDescriptorProto {
  const pkg = opts.pkg ?? 'ext.example';
  const field = (name: string, number: number, type: FieldDescriptorProto_Type, key = false) => ({
    name,
    number,
    type,
    label: FieldDescriptorProto_Label.OPTIONAL,
    jsonName: name,
    ...(key ? { options: fieldOptions(0) } : {}),
  });
  return create(FileDescriptorProtoSchema, {
    name: `${pkg.replace(/\./g, '/')}/service.proto`,
    package: pkg,
    syntax: 'proto3',
    messageType: [
      {
        name: 'Req',
        field: [field('id', 1, opts.keyType ?? FieldDescriptorProto_Type.STRING, opts.keyField ?? true), field('text', 2, FieldDescriptorProto_Type.STRING)],
      },
      { name: 'Resp', field: [field('text', 1, FieldDescriptorProto_Type.STRING)] },
      ...Array.from({ length: opts.fillerMessages ?? 0 }, (_, i) => ({
        name: `Filler${i}`,
        field: Array.from({ length: 16 }, (_, f) => field(`a_rather_long_field_name_number_${f}`, f + 1, FieldDescriptorProto_Type.STRING)),
      })),
    ],
    service: [
      {
        name: opts.service ?? 'Store',
        method: (opts.methods ?? ['Put', 'Get']).map((name) => ({
          name,
          inputType: `.${pkg}.Req`,
          outputType: `.${pkg}.Resp`,
          ...(opts.streaming ? { serverStreaming: true } : {}),
        })),
        ...(opts.serviceType === undefined ? {} : { options: serviceOptions(opts.serviceType) }),
      },
    ],
  });
}

export function descriptorSetBytes(...files: FileDescriptorProto[]): Uint8Array {
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files }));
}

/** One service-protocol frame: u16 type, u16 flags, u32 length, body. */
export function frame(type: number, flags: number, body: Uint8Array): Uint8Array {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt32BE(body.byteLength, 4);
  return new Uint8Array(Buffer.concat([header, body]));
}

/** Request body of a fresh invocation: StartMessage (PV = 1, known_entries = 1) + completed PollInputStream. */
export function invocationBody(input: Uint8Array): Uint8Array {
  const start = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .bytes(Buffer.from('0123456789abcdef01234567'))
    .tag(2, WireType.LengthDelimited)
    .string('inv_test')
    .tag(3, WireType.Varint)
    .uint32(1)
    .finish();
  const poll = new BinaryWriter().tag(14, WireType.LengthDelimited).bytes(input).finish();
  return new Uint8Array(Buffer.concat([frame(0x0000, 0x0001, start), frame(0x0400, 0x0001, poll)]));
}

/** Message types of the frames in a response body. */
export function frameTypes(body: Uint8Array): number[] {
  const buf = Buffer.from(body);
  const types: number[] = [];
  for (let pos = 0; pos + 8 <= buf.length; pos += 8 + buf.readUInt32BE(pos + 4)) types.push(buf.readUInt16BE(pos));
  return types;
}
