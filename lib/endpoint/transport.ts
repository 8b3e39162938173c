/** Builds the transport for a registered address. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GuardedTransport, type AddressPolicy } from './address-guard.js';
import { H2cTransport, type H2cSessionPool } from './h2c.js';
import { LambdaTransport } from './lambda.js';
import type { EndpointAddress, EndpointTransport } from './types.js';

export type LambdaAddress = Extract<EndpointAddress, { kind: 'lambda' }>;

export interface TransportDeps {
  /**
   * The Lambda client, or a function choosing one per address (to honour `assumeRoleArn` or the
   * ARN's region). Default: one client per region of the ARN, default credentials.
   */
  lambda?: LambdaClient | ((address: LambdaAddress) => LambdaClient);
  /** h2c session pool; default: the process-wide one. */
  h2Pool?: H2cSessionPool;
  /** Where http(s) endpoints may live; without it any address is called (tests, tools). */
  addressPolicy?: AddressPolicy;
}

/** The transport for `address`, with its `additionalHeaders` added to every call. */
export function createTransport(address: EndpointAddress, deps: TransportDeps = {}): EndpointTransport {
  if (address.kind === 'http') {
    const h2c = new H2cTransport(address.uri, { additionalHeaders: address.additionalHeaders, pool: deps.h2Pool });
    return deps.addressPolicy ? new GuardedTransport(h2c, address.uri, deps.addressPolicy) : h2c;
  }
  const client = deps.lambda === undefined ? defaultLambdaClient(address.arn) : typeof deps.lambda === 'function' ? deps.lambda(address) : deps.lambda;
  return new LambdaTransport(client, address.arn, { additionalHeaders: address.additionalHeaders });
}

const lambdaClients = new Map<string, LambdaClient>();

/** One client per region, built once per process (warm Lambdas reuse it). */
function defaultLambdaClient(arn: string): LambdaClient {
  const region = arn.split(':')[3] ?? '';
  let client = lambdaClients.get(region);
  if (client === undefined) {
    client = new LambdaClient(region === '' ? {} : { region });
    lambdaClients.set(region, client);
  }
  return client;
}
