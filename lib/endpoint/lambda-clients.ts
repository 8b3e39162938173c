/**
 * Lambda clients for ARN endpoints, one per (region of the ARN, role to assume), built once per
 * process and reused while the Lambda is warm. An endpoint registered with `assume_role_arn` is
 * called with that role's temporary credentials (STS AssumeRole, cached and refreshed ahead of
 * expiry); one in another region through a client of that region.
 */
import type { LambdaClient, LambdaClientConfig } from '@aws-sdk/client-lambda';
import type { STSClient } from '@aws-sdk/client-sts';
import { EndpointCredentialsError } from './errors.js';
import { lambdaSdk, stsSdk } from '../lazy-sdk.js';
import type { EndpointAddress } from './types.js';

export type LambdaAddress = Extract<EndpointAddress, { kind: 'lambda' }>;

import { refreshingCredentials, type Credentials, type CredentialsProvider } from '../credentials.js';

export { CREDENTIALS_REFRESH_MARGIN_MS, type Credentials, type CredentialsProvider } from '../credentials.js';

/** Session name the assumed role's CloudTrail entries carry. */
export const ASSUME_ROLE_SESSION_NAME = 'restless';

/** The region part of a Lambda ARN (`arn:aws:lambda:REGION:…`), or undefined for something else. */
export function regionOfArn(arn: string): string | undefined {
  const region = arn.split(':')[3];
  return region !== undefined && /^[a-z]{2}(-[a-z]+)+-\d+$/.test(region) ? region : undefined;
}

export interface AssumeRoleOptions {
  /** The STS client, or a function that gives it when the role is first assumed. */
  sts: STSClient | (() => Promise<STSClient>);
  roleArn: string;
  sessionName?: string;
  now?: () => number;
}

/**
 * A credentials provider for `roleArn`: one AssumeRole per credential lifetime, shared by
 * concurrent callers, renewed CREDENTIALS_REFRESH_MARGIN_MS before expiry.
 */
export function assumeRoleCredentials(opts: AssumeRoleOptions): CredentialsProvider {
  const assume = async (): Promise<Credentials> => {
    let out;
    try {
      const [sts, { AssumeRoleCommand }] = await Promise.all([typeof opts.sts === 'function' ? opts.sts() : opts.sts, stsSdk()]);
      out = await sts.send(new AssumeRoleCommand({ RoleArn: opts.roleArn, RoleSessionName: opts.sessionName ?? ASSUME_ROLE_SESSION_NAME }));
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
  return refreshingCredentials(assume, opts.now);
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
  private readonly clients = new Map<string, Promise<LambdaClient>>();
  private sts: STSClient | undefined;

  constructor(private readonly opts: LambdaClientsOptions = {}) {
    this.sts = opts.sts;
  }

  /**
   * The client for an endpoint: its ARN's region, and its role if it names one. The same promise
   * for the same region and role; one that failed (the SDK could not be loaded) is built again.
   */
  forAddress(address: LambdaAddress): Promise<LambdaClient> {
    const region = regionOfArn(address.arn);
    const key = `${region ?? ''}|${address.assumeRoleArn ?? ''}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      client = this.build(region, address.assumeRoleArn);
      this.clients.set(key, client);
      client.catch(() => this.clients.get(key) === client && this.clients.delete(key));
    }
    return client;
  }

  private async build(region: string | undefined, assumeRoleArn: string | undefined): Promise<LambdaClient> {
    const { LambdaClient } = await lambdaSdk();
    const config: LambdaClientConfig = { ...this.opts.base, ...(region ? { region } : {}) };
    if (assumeRoleArn !== undefined) {
      // The role is assumed when a call first needs credentials, not here.
      const sts = async () => {
        const { STSClient } = await stsSdk();
        return (this.sts ??= new STSClient({}));
      };
      config.credentials = assumeRoleCredentials({ sts, roleArn: assumeRoleArn, now: this.opts.now });
    }
    return new LambdaClient(config);
  }
}
