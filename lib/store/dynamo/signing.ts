/**
 * Where and as whom the lean client talks to DynamoDB: region, endpoint, credentials (the SDK's
 * default provider chain unless given, cached and refreshed before they expire) and SigV4 with
 * the SDK's own signer.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { refreshingCredentials, type Credentials, type CredentialsProvider } from '../../credentials.js';

export type CredentialsSource = Credentials | CredentialsProvider;

/** The given credentials, or a cached provider (the SDK's default chain unless one is given). */
export function cachedCredentials(source: CredentialsSource | undefined): CredentialsProvider {
  if (source !== undefined && typeof source !== 'function') return () => Promise.resolve(source);
  return refreshingCredentials(source ?? defaultProvider());
}

/** DNS suffix of a region's partition. */
export function dnsSuffix(region: string): string {
  if (region.startsWith('cn-')) return 'amazonaws.com.cn';
  if (region.startsWith('us-isob-')) return 'sc2s.sgov.gov';
  if (region.startsWith('us-isof-')) return 'csp.hci.ic.gov';
  if (region.startsWith('us-iso-')) return 'c2s.ic.gov';
  if (region.startsWith('eu-isoe-')) return 'cloud.adc-e.uk';
  return 'amazonaws.com';
}

/** Explicit endpoint, else AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL, else the region's public endpoint. */
export function resolveEndpoint(region: string, explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): URL {
  const url = explicit ?? env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL ?? `https://dynamodb.${region}.${dnsSuffix(region)}`;
  return new URL(url);
}

/** SHA-256 (HMAC-SHA256 with a key) over node:crypto, in the shape the SDK's signer asks for. */
class Sha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.secret));
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

export interface SignableRequest {
  hostname: string;
  port?: number;
  path: string;
  protocol: string;
  headers: Record<string, string>;
  body: string;
}

export function createSigner(region: string, credentials: () => Promise<Credentials>): (req: SignableRequest) => Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: 'dynamodb', region, credentials, sha256: Sha256, applyChecksum: false, uriEscapePath: true });
  return async (req) => {
    const signed = await signer.sign({ method: 'POST', query: {}, ...req });
    return signed.headers;
  };
}
