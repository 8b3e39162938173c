/**
 * Lambda clients for ARN endpoints, one per (region of the ARN, role to assume), built once per
 * process and reused while the Lambda is warm. An endpoint registered with `assume_role_arn` is
 * called with that role's temporary credentials (STS AssumeRole, cached and refreshed ahead of
 * expiry); one in another region through a client of that region.
 */
import { LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { EndpointCredentialsError } from './errors.js';
import type { EndpointAddress } from './types.js';

export type LambdaAddress = Extract<EndpointAddress, { kind: 'lambda' }>;

/** What a client's `credentials` accepts (the SDK's Credentials and its provider). */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
export type CredentialsProvider = () => Promise<Credentials>;

/** Session name the assumed role's CloudTrail entries carry. */
export const ASSUME_ROLE_SESSION_NAME = 'restless';

/** Temporary credentials are renewed this long before they expire (a call must not start on credentials about to lapse). */
export const CREDENTIALS_REFRESH_MARGIN_MS = 5 * 60_000;

/** The region part of a Lambda ARN (`arn:aws:lambda:REGION:…`), or undefined for something else. */
export function regionOfArn(arn: string): string | undefined {
  const region = arn.split(':')[3];
  return region !== undefined && /^[a-z]{2}(-[a-z]+)+-\d+$/.test(region) ? region : undefined;
}

export interface AssumeRoleOptions {
  sts: STSClient;
  roleArn: string;
  sessionName?: string;
  now?: () => number;
}

/**
 * A credentials provider for `roleArn`: one AssumeRole per credential lifetime, shared by
 * concurrent callers, renewed CREDENTIALS_REFRESH_MARGIN_MS before expiry.
 */
export function assumeRoleCredentials(opts: AssumeRoleOptions): CredentialsProvider {
  const now = opts.now ?? Date.now;
  let current: Credentials | undefined;
  let pending: Promise<Credentials> | undefined;
  const fresh = (c: Credentials | undefined): c is Credentials =>
    c !== undefined && (c.expiration === undefined || c.expiration.getTime() - CREDENTIALS_REFRESH_MARGIN_MS > now());
  const assume = async (): Promise<Credentials> => {
    let out;
    try {
      out = await opts.sts.send(new AssumeRoleCommand({ RoleArn: opts.roleArn, RoleSessionName: opts.sessionName ?? ASSUME_ROLE_SESSION_NAME }));
    } catch (err) {
      throw new EndpointCredentialsError(`could not assume ${opts.roleArn}: ${(err as Error).name}: ${(err as Error).message}`, {
        cause: err,
        retryable: isThrottle(err),
      });
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new EndpointCredentialsError(`AssumeRole of ${opts.roleArn} returned no credentials`);
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  };
  return async () => {
    if (fresh(current)) return current;
    pending ??= assume().finally(() => (pending = undefined));
    current = await pending;
    return current;
  };
}

function isThrottle(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'ThrottlingException' || e.name === 'Throttling' || (e.$metadata?.httpStatusCode ?? 500) >= 500;
}

export interface LambdaClientsOptions {
  /** Config every client starts from (credentials of the process, retries, …). */
  base?: LambdaClientConfig;
  /** STS for AssumeRole. Default: a client in the process's own region. */
  sts?: STSClient;
  now?: () => number;
}

export class LambdaClients {
  private readonly clients = new Map<string, LambdaClient>();
  private sts: STSClient | undefined;

  constructor(private readonly opts: LambdaClientsOptions = {}) {
    this.sts = opts.sts;
  }

  /** The client for an endpoint: its ARN's region, and its role if it names one. */
  forAddress(address: LambdaAddress): LambdaClient {
    const region = regionOfArn(address.arn);
    const key = `${region ?? ''}|${address.assumeRoleArn ?? ''}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      const config: LambdaClientConfig = { ...this.opts.base, ...(region ? { region } : {}) };
      if (address.assumeRoleArn !== undefined) {
        this.sts ??= new STSClient({});
        config.credentials = assumeRoleCredentials({ sts: this.sts, roleArn: address.assumeRoleArn, now: this.opts.now });
      }
      client = new LambdaClient(config);
      this.clients.set(key, client);
    }
    return client;
  }
}
