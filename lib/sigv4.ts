/**
 * AWS Signature Version 4, header signing of one request, nothing else: for the admin routes on
 * AWS (API Gateway `AWS_IAM` authorization, service `execute-api`) and for the lean DynamoDB
 * client. test/cli/sigv4.test.ts checks it against the AWS SDK's own signer (@smithy/signature-v4).
 *
 *   canonical request ─sha256─▶ string to sign ─HMAC(signing key)─▶ signature
 *   signing key = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
 */
import { createHash, createHmac } from 'node:crypto';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  url: URL;
  /** Header names in any case; `host` is added. */
  headers: Record<string, string>;
  body: Uint8Array | string;
  region: string;
  service: string;
  credentials: AwsCredentials;
  date?: Date;
  /** Send (and sign) x-amz-content-sha256, as the SDK does for S3-style services; default true. */
  payloadHashHeader?: boolean;
}

/** Never signed: a proxy or the client may change them on the way (the SDK's list). */
const UNSIGNABLE = new Set([
  'authorization',
  'cache-control',
  'connection',
  'expect',
  'from',
  'keep-alive',
  'max-forwards',
  'pragma',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
]);

const sha256Hex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Uint8Array | string, data: string) => createHmac('sha256', key).update(data).digest();

/** Signing keys change once a day per secret, region and service: four HMACs saved per request. */
const signingKeys = new Map<string, Buffer>();
function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  const id = `${day}\n${region}\n${service}\n${secret}`;
  let key = signingKeys.get(id);
  if (key === undefined) {
    if (signingKeys.size >= 16) signingKeys.clear();
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
    signingKeys.set(id, key);
  }
  return key;
}

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The headers to send: the given ones (names lowercased), host, x-amz-date, x-amz-content-sha256 (unless off), the token, authorization. */
export function signRequest(input: SignInput): Record<string, string> {
  const date = input.date ?? new Date();
  const amzDate = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(input.body);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
  headers.host = input.url.host;
  headers['x-amz-date'] = amzDate;
  if (input.payloadHashHeader !== false) headers['x-amz-content-sha256'] = payloadHash;
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken;

  const signed = Object.keys(headers)
    .filter((h) => !UNSIGNABLE.has(h) && !h.startsWith('proxy-') && !h.startsWith('sec-'))
    .sort();
  const canonicalHeaders = signed.map((h) => `${h}:${headers[h]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  // Non-S3 services: each path segment is encoded again (the path is already URL-encoded).
  const segments = input.url.pathname.split('/').filter((seg) => seg !== '');
  const path = `/${segments.map(rfc3986).join('/')}${segments.length > 0 && input.url.pathname.endsWith('/') ? '/' : ''}`;
  const query = [...input.url.searchParams]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [input.method.toUpperCase(), path, query, canonicalHeaders, signed.join(';'), payloadHash].join('\n');
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = signingKey(input.credentials.secretAccessKey, day, input.region, input.service);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return headers;
}

/** The region of an API Gateway URL (`https://{id}.execute-api.{region}.amazonaws.com`), if it is one. */
export function regionOfApiUrl(url: URL): string | undefined {
  return /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
}
