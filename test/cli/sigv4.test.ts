/**
 * Our SigV4 signer against the AWS SDK's own (@smithy/signature-v4): same request, same clock,
 * same credentials → the same authorization header, byte for byte.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { regionOfApiUrl, signRequest, type AwsCredentials } from '../../lib/sigv4.js';

function bytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** The SDK's Checksum interface over node:crypto (hash, or HMAC when given a secret). */
class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {}
}

const DATE = new Date('2026-12-04T17:30:05.123Z');
const PLAIN: AwsCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SESSION: AwsCredentials = { ...PLAIN, sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN//////////' };

async function sdkSignature(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: string,
  credentials: AwsCredentials,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({ credentials, region: 'eu-west-1', service: 'execute-api', sha256: Sha256 });
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signed = await signer.sign(
    { method, protocol: url.protocol, hostname: url.hostname, path: url.pathname, query, headers: { ...headers, host: url.host }, body },
    { signingDate: DATE },
  );
  return signed.headers as Record<string, string>;
}

describe('signRequest', () => {
  it.each([
    {
      case: 'a GET with a query',
      method: 'GET',
      url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/invocations?status=invoked,suspended&limit=20&service=org.example.Greeter',
      body: '',
      credentials: PLAIN,
    },
    {
      case: 'a PATCH with a JSON body',
      method: 'PATCH',
      url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/services/org.example.Greeter',
      body: '{"public":false}',
      credentials: PLAIN,
    },
    {
      case: 'a session token',
      method: 'DELETE',
      url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/invocations/inv_1a2b?mode=cancel',
      body: '',
      credentials: SESSION,
    },
    {
      case: 'reserved characters in path and query',
      method: 'GET',
      url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/services/svc/keys/a%20b%2Fc!?key=x%20y*z&cursor=eyJ2IjoxfQ',
      body: '',
      credentials: PLAIN,
    },
  ])('signs $case exactly as the AWS SDK does', async ({ method, url, body, credentials }) => {
    const u = new URL(url);
    const headers = { 'content-type': 'application/json' };

    const ours = signRequest({
      method,
      url: u,
      headers,
      body: new TextEncoder().encode(body),
      region: 'eu-west-1',
      service: 'execute-api',
      credentials,
      date: DATE,
    });
    const sdk = await sdkSignature(method, u, headers, body, credentials);

    expect(ours.authorization).toBe(sdk.authorization);
    expect(ours['x-amz-date']).toBe(sdk['x-amz-date']);
    expect(ours['x-amz-security-token']).toBe(sdk['x-amz-security-token']);
  });

  it('changes the signature when the body changes', () => {
    const u = new URL('https://abc123.execute-api.eu-west-1.amazonaws.com/deployments');
    const sign = (body: string) =>
      signRequest({
        method: 'POST',
        url: u,
        headers: {},
        body: new TextEncoder().encode(body),
        region: 'eu-west-1',
        service: 'execute-api',
        credentials: PLAIN,
        date: DATE,
      }).authorization;

    expect(sign('{"uri":"http://a"}')).not.toBe(sign('{"uri":"http://b"}'));
  });

  it.each([
    { case: 'plain credentials', credentials: PLAIN, date: DATE },
    { case: 'a session token', credentials: SESSION, date: DATE },
    // The signing key is cached per day and secret: a new day and a new secret must not reuse it.
    { case: 'the next day', credentials: SESSION, date: new Date('2026-12-05T00:00:01.000Z') },
    { case: 'another secret', credentials: { accessKeyId: 'AKID2', secretAccessKey: 'another/secret' }, date: DATE },
  ])('signs a DynamoDB request ($case) as the SDK does for DynamoDB: no payload-hash header, trace id unsigned', async ({ credentials, date }) => {
    const url = new URL('https://dynamodb.eu-west-1.amazonaws.com/');
    const body = '{"TableName":"restless","Key":{"pk":{"S":"inv#1"},"sk":{"S":"meta"}}}';
    const headers = {
      host: url.host,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.GetItem',
      'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793',
    };
    const ours = signRequest({ method: 'POST', url, headers, body, region: 'eu-west-1', service: 'dynamodb', credentials, date, payloadHashHeader: false });
    const signer = new SignatureV4({ credentials, region: 'eu-west-1', service: 'dynamodb', sha256: Sha256, applyChecksum: false });
    const sdk = (await signer.sign({ method: 'POST', protocol: 'https:', hostname: url.hostname, path: '/', query: {}, headers, body }, { signingDate: date }))
      .headers as Record<string, string>;

    expect(ours.authorization).toBe(sdk.authorization);
    expect(ours.authorization).toContain('SignedHeaders=content-type;host;x-amz-date;');
    expect(ours['x-amz-content-sha256']).toBeUndefined();
    expect(ours['x-amzn-trace-id']).toBe(headers['x-amzn-trace-id']);
  });

  it.each([
    { case: 'an API Gateway URL', url: 'https://abc123.execute-api.us-east-2.amazonaws.com/', region: 'us-east-2' },
    { case: 'the local runner', url: 'http://127.0.0.1:9070', region: undefined },
    { case: 'a custom domain', url: 'https://admin.example.com', region: undefined },
  ])('detects the region of $case', ({ url, region }) => {
    expect(regionOfApiUrl(new URL(url))).toBe(region);
  });
});
