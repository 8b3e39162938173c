/**
 * Where and as whom the lean client talks to DynamoDB: region, endpoint, credentials (the SDK's
 * default provider chain unless given, cached and refreshed before they expire) and SigV4.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { refreshingCredentials, type Credentials, type CredentialsProvider } from '../../credentials.js';
import { signRequest } from '../../sigv4.js';

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

export interface SignableRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
}

/** Signs a DynamoDB POST with our SigV4 signer (checked against the SDK's in test/cli/sigv4.test.ts). */
export function createSigner(region: string, credentials: () => Promise<Credentials>): (req: SignableRequest) => Promise<Record<string, string>> {
  return async (req) =>
    signRequest({
      method: 'POST',
      url: req.url,
      headers: req.headers,
      body: req.body,
      region,
      service: 'dynamodb',
      credentials: await credentials(),
      payloadHashHeader: false,
    });
}
