/** Builds the transport for a registered address. */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { GuardedTransport, type AddressPolicy } from './address-guard.js';
import { H2cTransport, type H2cSessionPool } from './h2c.js';
import { LambdaClients, type LambdaAddress } from './lambda-clients.js';
import { LambdaTransport, type LambdaClientSource } from './lambda.js';
import type { EndpointAddress, EndpointTransport } from './types.js';

export type { LambdaAddress } from './lambda-clients.js';

export interface TransportDeps {
  /**
   * The Lambda client, or a function choosing one per address. Default: the process-wide
   * {@link LambdaClients} (the ARN's region; the registered role, assumed).
   */
  lambda?: LambdaClient | ((address: LambdaAddress) => LambdaClient | Promise<LambdaClient>);
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
  // Chosen at the first call, so the Lambda SDK loads only when a Lambda endpoint is called.
  const choose = deps.lambda;
  const client: LambdaClientSource =
    choose === undefined ? () => defaultLambdaClients.forAddress(address) : typeof choose === 'function' ? async () => choose(address) : choose;
  return new LambdaTransport(client, address.arn, { additionalHeaders: address.additionalHeaders });
}

/** Built once per process: warm Lambdas reuse the clients and the assumed roles' credentials. */
export const defaultLambdaClients = new LambdaClients();
