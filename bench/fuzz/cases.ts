/**
 * Generated hostile requests (fast-check arbitraries): paths, methods, headers, content types,
 * encodings, bodies, idempotency headers, awakeable ids and admin bodies, aimed at the ingress
 * and admin ports of a running Restless. `sampleCases(seed, n)` is deterministic: case i of a
 * seed is always the same request, so a failure replays with its seed and index.
 *
 * Sleeps called request/response stay short (a caller of a 31-year sleep rightly waits until the
 * ingress deadline); huge, unsafe and non-numeric durations are started one-way instead.
 */
import { brotliCompressSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';

export type Port = 'ingress' | 'admin';
/** http1: node:http; h2: node:http2 (prior knowledge, ingress only); raw: bytes on a TCP socket. */
export type Transport = 'http1' | 'h2' | 'raw';

export interface HostileRequest {
  /** Generator family, for the histogram. */
  family: string;
  port: Port;
  transport: Transport;
  method: string;
  /** Raw request target: path and query, possibly with broken percent-encoding. */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Transport 'raw': the exact bytes to send instead of a request. */
  raw?: Uint8Array;
}

const enc = new TextEncoder();

/** Stand-ins for the runner's own ports in registration bodies (see `fillPorts`). */
export const INGRESS_URI = 'http://127.0.0.1:{ingress}';
export const ADMIN_URI = 'http://127.0.0.1:{admin}';
const json = (v: unknown) => enc.encode(JSON.stringify(v));

const KNOWN: [string, string][] = [
  ['org.example.Greeter', 'Greet'],
  ['greeter', 'greet'],
  ['counter', 'add'],
  ['counter', 'get'],
  ['sleeper', 'sleep'],
  ['dev.restate.Ingress', 'Invoke'],
  ['dev.restate.Awakeables', 'Resolve'],
  ['dev.restate.Awakeables', 'Reject'],
  ['grpc.health.v1.Health', 'Check'],
  ['grpc.health.v1.Health', 'Watch'],
  ['grpc.reflection.v1.ServerReflection', 'ServerReflectionInfo'],
];

/** Path segments: known names, percent-encoding junk, long, unicode. */
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...new Set(KNOWN.flat())) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '.',
      '..',
      '%',
      '%E0%A4%A',
      '%00',
      '%2F',
      '%FF',
      '%C0%AF',
      '%zz',
      'a'.repeat(3000),
      'x'.repeat(1025),
      '~',
      '%20',
      'inv_AAAAAAAAAAAAAAAAAAAAAA',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,40}$/) },
);

const query = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.stringMatching(/^\?[A-Za-z0-9=&%+._-]{0,30}$/) });

/** Invocation ids: well-formed (unknown), near misses, junk. */
const invocationId: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^inv_[A-Za-z0-9_-]{22}$/),
  fc.stringMatching(/^inv_[A-Za-z0-9_-]{0,30}$/),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
);

const targetPath = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...KNOWN), query).map(([[s, m], q]) => `/${s}/${m}${q}`) },
  { weight: 2, arbitrary: fc.tuple(segment, segment, query).map(([s, m, q]) => `/${s}/${m}${q}`) },
  { weight: 1, arbitrary: fc.array(segment, { maxLength: 5 }).map((segs) => `/${segs.join('/')}`) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.oneof(invocationId, segment), fc.constantFrom('output', 'attach', 'x')).map(([id, what]) => `/restate/invocation/${id}/${what}`),
  },
);

const awakeableId = fc.oneof(
  fc.stringMatching(/^prom_1[A-Za-z0-9_-]{0,80}$/),
  fc.uint8Array({ minLength: 0, maxLength: 60 }).map((b) => `prom_1${Buffer.from(b).toString('base64url')}`),
  fc.string({ maxLength: 60 }),
);

const method = fc.oneof(
  { weight: 8, arbitrary: fc.constant('POST') },
  { weight: 3, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
  { weight: 1, arbitrary: fc.constantFrom('TRACE', 'PROPFIND', 'FOO', 'post') },
);

const CONNECT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json;charset="UTF-8"',
  'Application/JSON',
  'application/proto',
  'application/x-protobuf',
  'application/protobuf',
  'application/connect+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
  ';;;',
];
const GRPC_WEB_TYPES = [
  'application/grpc-web',
  'application/grpc-web+proto',
  'application/grpc-web+json',
  'application/grpc-web-text',
  'application/grpc-web-text+proto',
  'application/grpc-web+thrift',
];
const GRPC_TYPES = ['application/grpc', 'application/grpc+proto', 'application/grpc+json', 'application/grpc+thrift'];

/** Header values Node's clients accept (visible ASCII and latin1, no line breaks). */
const headerValue = fc.oneof(fc.stringMatching(/^[ -~]{0,60}$/), fc.constantFrom('', ' ', '0', '-1', '9'.repeat(30), 'ü'.repeat(10)));

const idempotency = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ 'idempotency-key': fc.oneof(fc.stringMatching(/^[ -~]{0,40}$/), fc.constant('k'.repeat(600))) }) },
  { weight: 1, arbitrary: fc.record({ 'idempotency-key': fc.stringMatching(/^[A-Za-z0-9]{1,20}$/), 'idempotency-retention-period': headerValue }) },
  { weight: 1, arbitrary: fc.record({ 'idempotency-retention-period': headerValue }) },
);

const extraHeaders = fc.dictionary(
  fc.constantFrom(
    'origin',
    'connect-protocol-version',
    'connect-timeout-ms',
    'grpc-timeout',
    'x-grpc-web',
    'accept',
    'accept-encoding',
    'traceparent',
    'x-restate-id',
    'te',
  ),
  headerValue,
  { maxKeys: 3 },
);

/** A JSON value, sometimes pathological (deep nesting, big numbers, long strings). */
const anyJson = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1000 }).map((n) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown) },
  { weight: 1, arbitrary: fc.constantFrom(1e308, -0, 2 ** 64, 'x'.repeat(70_000), null, true) },
);

/** JSON text nested deeper than any parser's stack (kept as text: the value itself cannot be built). */
const deepJsonText = fc
  .tuple(fc.integer({ min: 1000, max: 200_000 }), fc.constantFrom('[', '{"request":[', '{"key":"k","request":{"a":'))
  .map(([n, open]) => enc.encode(open + '['.repeat(n)));

/** Instance keys for keyed calls: short, empty, unicode, beyond DynamoDB's 2 KB key, beyond the 64 KB limit. */
const instanceKey = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', ' ', 'k1', 'ü', '\u0000', 'x'.repeat(200), 'x'.repeat(3000), 'y'.repeat(64 * 1024 + 1)),
  fc.constant(null),
);

/** Sleep durations no timer holds: past 2^31 ms, past MAX_SAFE_INTEGER once added to now, not numbers. */
const absurdMillis = fc.oneof(fc.constantFrom(1e12, 9e15, 1e300, -1e300, '1000', 'abc', true), fc.constant({}), fc.double());

/** A JSON body meant for a known target: right shape, hostile values. */
const targetedJson = fc.oneof(
  fc.record({ name: fc.oneof(fc.string({ maxLength: 40 }), anyJson) }, { requiredKeys: [] }).map((v) => ['/org.example.Greeter/Greet', v] as const),
  fc.record({ key: instanceKey, request: fc.oneof(fc.record({ name: anyJson }), anyJson) }, { requiredKeys: [] }).map((v) => ['/greeter/greet', v] as const),
  fc.tuple(
    fc.constantFrom('/counter/add', '/counter/get'),
    fc.record(
      { key: instanceKey, request: fc.oneof(fc.record({ delta: fc.oneof(fc.integer(), anyJson) }), anyJson), senderAssumes: fc.integer({ min: -1, max: 5 }) },
      { requiredKeys: ['key'] },
    ),
  ),
  fc.record({ request: fc.record({ millis: fc.oneof(fc.integer({ min: -1000, max: 1500 }), fc.constant(null)) }) }).map((v) => ['/sleeper/sleep', v] as const),
  absurdMillis.map((millis) => ['/dev.restate.Ingress/Invoke', { service: 'sleeper', method: 'sleep', argument: { request: { millis } } }] as const),
  fc
    .record(
      {
        service: fc.oneof(fc.constantFrom('greeter', 'counter', 'org.example.Greeter', 'nope', 'dev.restate.Ingress', ''), fc.string({ maxLength: 30 })),
        method: fc.oneof(fc.constantFrom('greet', 'add', 'get', 'Greet', 'Invoke', ''), fc.string({ maxLength: 30 })),
        argument: fc.oneof(fc.record({ key: instanceKey, request: anyJson }, { requiredKeys: [] }), anyJson),
        pb: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')),
      },
      { requiredKeys: [] },
    )
    .map((v) => ['/dev.restate.Ingress/Invoke', v] as const),
  fc
    .record(
      {
        id: awakeableId,
        json_result: anyJson,
        bytes_result: fc.uint8Array({ maxLength: 50 }).map((b) => Buffer.from(b).toString('base64')),
        reason: fc.string({ maxLength: 50 }),
      },
      { requiredKeys: ['id'] },
    )
    .chain((v) => fc.constantFrom('/dev.restate.Awakeables/Resolve', '/dev.restate.Awakeables/Reject').map((p) => [p, v] as const)),
  fc
    .record({ service: fc.oneof(fc.constantFrom('', 'greeter', 'nope', 'x'.repeat(3000)), fc.string({ maxLength: 20 })) })
    .map((v) => ['/grpc.health.v1.Health/Check', v] as const),
);

/** How a body is (mis)compressed: none, right, wrong header, junk encoding, a small bomb. */
const compression = fc.constantFrom('none', 'none', 'none', 'none', 'gzip', 'br', 'gzip-header-only', 'unknown', 'bomb');

let bomb: Uint8Array | undefined;
/** 4 MiB of zeros: ~4 KB of gzip, four times the limit once inflated (made once). */
function smallBomb(): Uint8Array {
  bomb ??= gzipSync(Buffer.alloc(4 * 1024 * 1024));
  return bomb;
}

function compress(kind: string, body: Uint8Array): { body: Uint8Array; encoding?: string } {
  switch (kind) {
    case 'gzip':
      return { body: gzipSync(body), encoding: 'gzip' };
    case 'br':
      return { body: brotliCompressSync(body), encoding: 'br' };
    case 'gzip-header-only':
      return { body, encoding: 'gzip' };
    case 'unknown':
      return { body, encoding: 'zstd' };
    case 'bomb':
      return { body: smallBomb(), encoding: 'gzip' };
    default:
      return { body };
  }
}

function frame(payload: Uint8Array, flags = 0, declared = payload.length): Uint8Array {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flags;
  out.writeUInt32BE(declared >>> 0, 1);
  out.set(payload, 5);
  return out;
}

/** GreetRequest{name} in protobuf binary. */
function greetProto(name: string): Uint8Array {
  const bytes = Buffer.from(name);
  return Buffer.concat([Buffer.from([0x0a]), varint(bytes.length), bytes]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

const randomBytes = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 400_000 }).map((n) => new Uint8Array(n).fill(0x61)) },
);

/** Connect unary (and everything else that goes to the Lambda path). */
const connectCase: fc.Arbitrary<HostileRequest> = fc
  .record({
    method,
    target: fc.oneof(
      { weight: 3, arbitrary: targetedJson.map(([p, v]) => ({ path: p, body: json(v) })) },
      { weight: 2, arbitrary: fc.tuple(targetPath, fc.oneof(anyJson.map(json), randomBytes, deepJsonText)).map(([path, body]) => ({ path, body })) },
    ),
    contentType: fc.oneof(
      { weight: 4, arbitrary: fc.constant('application/json') },
      { weight: 2, arbitrary: fc.constantFrom(...CONNECT_TYPES) },
      { weight: 1, arbitrary: headerValue },
    ),
    compression,
    idem: idempotency,
    extra: extraHeaders,
    transport: fc.constantFrom<Transport>('http1', 'http1', 'h2'),
  })
  .map(({ method, target, contentType, compression: c, idem, extra, transport }) => {
    const { body, encoding } = compress(c, target.body);
    const headers: Record<string, string> = { ...extra, ...idem };
    if (contentType) headers['content-type'] = contentType;
    if (encoding) headers['content-encoding'] = encoding;
    return {
      family: 'connect',
      port: 'ingress',
      transport,
      method,
      path: target.path,
      headers,
      body: method === 'GET' || method === 'HEAD' ? new Uint8Array(0) : body,
    };
  });

/** gRPC-web (HTTP/1.1 or h2) and native gRPC (h2): frames with hostile flags, lengths and payloads. */
const grpcCase: fc.Arbitrary<HostileRequest> = fc
  .record({
    native: fc.boolean(),
    path: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          '/org.example.Greeter/Greet',
          '/greeter/greet',
          '/counter/add',
          '/dev.restate.Ingress/Invoke',
          '/grpc.health.v1.Health/Check',
        ),
      },
      { weight: 1, arbitrary: targetPath },
    ),
    payload: fc.oneof(
      fc.string({ maxLength: 30 }).map(greetProto),
      targetedJson.map(([, v]) => json(v)),
      fc.uint8Array({ maxLength: 100 }),
    ),
    flags: fc.constantFrom(0, 0, 0, 1, 0x80, 0x02, 0xff),
    lengthLie: fc.constantFrom(0, 0, 0, 1, -1, 5 * 1024 * 1024, 0xffffffff),
    frames: fc.constantFrom(1, 1, 1, 0, 2),
    compression: fc.constantFrom('none', 'none', 'gzip', 'br', 'unknown', 'bomb', 'flag-only'),
    contentTypeIndex: fc.nat(),
    text: fc.boolean(),
    idem: idempotency,
    method: fc.oneof({ weight: 6, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT') }),
  })
  .map((g) => {
    const headers: Record<string, string> = { ...g.idem };
    let payload: Uint8Array = g.payload;
    let flags = g.flags;
    if (g.compression === 'gzip' || g.compression === 'br' || g.compression === 'bomb') {
      const c = compress(g.compression, payload);
      payload = c.body;
      headers['grpc-encoding'] = c.encoding!;
      flags |= 1;
    } else if (g.compression === 'unknown') {
      headers['grpc-encoding'] = 'snappy';
      flags |= 1;
    } else if (g.compression === 'flag-only') {
      flags |= 1;
    }
    const one = frame(payload, flags, payload.length + g.lengthLie);
    const body = g.frames === 0 ? new Uint8Array(0) : g.frames === 2 ? Buffer.concat([one, one]) : one;
    if (g.native) {
      headers['content-type'] = GRPC_TYPES[g.contentTypeIndex % GRPC_TYPES.length]!;
      headers.te = 'trailers';
      return { family: 'grpc', port: 'ingress' as const, transport: 'h2' as const, method: g.method, path: g.path, headers, body };
    }
    const type = GRPC_WEB_TYPES[g.contentTypeIndex % GRPC_WEB_TYPES.length]!;
    headers['content-type'] = type;
    headers['x-grpc-web'] = '1';
    const text = type.includes('-text');
    return {
      family: 'grpc-web',
      port: 'ingress' as const,
      transport: g.text ? ('h2' as const) : ('http1' as const),
      method: g.method,
      path: g.path,
      headers,
      body: text ? enc.encode(Buffer.from(body).toString('base64')) : body,
    };
  });

/** Admin API: every route, hostile parameters and bodies. Never touches the example endpoint or service visibility. */
const adminCase: fc.Arbitrary<HostileRequest> = fc
  .record({
    method: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'PATCH') },
      { weight: 1, arbitrary: fc.constantFrom('PUT', 'HEAD', 'OPTIONS', 'TRACE') },
    ),
    path: fc.oneof(
      fc.constantFrom('/health', '/openapi', '/endpoints', '/deployments', '/services', '/'),
      fc
        .tuple(fc.constantFrom('endpoints', 'deployments'), segment, fc.constantFrom('', '/descriptors', '?force=true', '?force=false'))
        .map(([b, id, rest]) => `/${b}/${id}${rest}`),
      fc.tuple(segment, fc.constantFrom('', '/methods', '/descriptors', '/methods/greet', '/methods/x')).map(([name, rest]) => `/services/${name}${rest}`),
      fc
        .tuple(fc.constantFrom('greeter', 'counter', 'org.example.Greeter'), fc.constantFrom('', '/methods', '/descriptors', '/methods/Greet', '/methods/nope'))
        .map(([name, rest]) => `/services/${name}${rest}`),
      fc.tuple(invocationId, fc.constantFrom('', '?mode=kill', '?mode=cancel', '?mode=x')).map(([id, q]) => `/invocations/${id}${q}`),
      fc.array(segment, { maxLength: 4 }).map((s) => `/${s.join('/')}`),
    ),
    body: fc.oneof(
      fc
        .record(
          {
            uri: fc.oneof(
              fc.constantFrom(
                'http://169.254.169.254/',
                'http://[fe80::1]:9080',
                'http://[fd00:ec2::254]',
                'http://0xa9fea9fe',
                'http://127.0.0.1:1',
                'http://localhost:9',
                'https://127.0.0.1:1',
                'ftp://x',
                'http://x?y',
                'not a uri',
                '',
              ),
              // Placeholders the sender fills in: servers that answer, but not as endpoints.
              fc.constantFrom(INGRESS_URI, ADMIN_URI),
              fc.string({ maxLength: 40 }),
            ),
            // Malformed ARNs only: a well-formed one would make the runner call AWS.
            arn: fc.oneof(fc.constantFrom('arn:x', 'arn:aws:lambda:us-east-1:1:function:f'), fc.string({ maxLength: 40 })),
            additional_headers: fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 10 }), anyJson), { maxKeys: 3 }), anyJson),
            force: fc.oneof(fc.boolean(), anyJson),
            dry_run: fc.oneof(fc.constant(true), anyJson),
          },
          { requiredKeys: [] },
        )
        .map(json),
      fc.record({ public: fc.oneof(fc.constantFrom('true', 1, null), anyJson), extra: anyJson }, { requiredKeys: [] }).map(json),
      anyJson.map(json),
      randomBytes,
    ),
    contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', ''),
  })
  .filter((a) => !(a.method === 'PATCH' && /^\/services\/(greeter|counter|sleeper|org\.example\.Greeter)$/.test(a.path)))
  .map((a): HostileRequest => ({
    family: 'admin',
    port: 'admin' as const,
    transport: 'http1' as const,
    method: a.method,
    path: a.path,
    headers: a.contentType ? { 'content-type': a.contentType } : ({} as Record<string, string>),
    body: a.method === 'GET' || a.method === 'HEAD' ? new Uint8Array(0) : a.body,
  }));

/** Bytes that are not quite HTTP: broken request lines, bad header syntax, lying lengths. */
const rawCase: fc.Arbitrary<HostileRequest> = fc
  .record({
    port: fc.constantFrom<Port>('ingress', 'admin'),
    bytes: fc.oneof(
      fc.constantFrom(
        'GET / HTTP/1.1\r\n\r\n',
        'POST /greeter/greet HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
        'POST /greeter/greet HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
        'POST /greeter/greet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
        'GET /\x00 HTTP/1.1\r\n\r\n',
        'GET / HTTP/9.9\r\n\r\n',
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00garbage-frames',
        '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03',
        `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      ),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.stringMatching(/^[A-Z]{1,8} \/[ -~]{0,30} HTTP\/1\.[01]\r\n([A-Za-z-]{1,10}: [ -~]{0,20}\r\n){0,3}\r\n$/),
    ),
  })
  .map(({ port, bytes }) => ({
    family: 'raw',
    port,
    transport: 'raw' as const,
    method: '',
    path: '',
    headers: {},
    body: new Uint8Array(0),
    raw: Buffer.from(bytes, 'latin1'),
  }));

export const hostileRequest: fc.Arbitrary<HostileRequest> = fc.oneof(
  { weight: 5, arbitrary: connectCase },
  { weight: 3, arbitrary: grpcCase },
  { weight: 3, arbitrary: adminCase },
  { weight: 1, arbitrary: rawCase },
);

/** The first `n` requests of `seed`, always the same ones. */
export function sampleCases(seed: number, n: number): HostileRequest[] {
  return fc.sample(hostileRequest, { seed, numRuns: n });
}
