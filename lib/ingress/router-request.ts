/**
 * The SDK's router services (`restate.router()`, `keyedRouter()`) all take `RpcRequest`
 * `{key, request, senderAssumes}`. The SDK refuses a keyed call without a key (or an unkeyed call
 * with one) by failing the invocation with a terminal error, which would reach the caller as a
 * 500. It is the caller's mistake, so the ingress refuses it first, with a 400 that says how.
 */
import { InvalidArgumentError } from '../errors.js';
import type { ResolvedMethod, ResolvedService } from '../registry/types.js';

/** The SDK declares it without a package (proto/dynrpc.proto), with `sender_assumes = 101`. */
export const ROUTER_REQUEST_TYPE = 'RpcRequest';

export function isRouterRequest(method: ResolvedMethod): boolean {
  return method.input.typeName === ROUTER_REQUEST_TYPE && method.input.fields.some((f) => f.number === 101 && f.name === 'sender_assumes');
}

interface RouterRequestFields {
  key?: unknown;
  senderAssumes?: unknown;
}

/** Throws InvalidArgumentError when the SDK would refuse this router request. */
export function checkRouterRequest(service: ResolvedService, method: ResolvedMethod, message: object): void {
  if (!isRouterRequest(method)) return;
  const fields = message as RouterRequestFields;
  const where = `'${service.meta.name}/${method.name}'`;
  // Set by SDK-to-SDK calls only; from an ingress client it changes which checks the SDK runs.
  if (fields.senderAssumes !== undefined && fields.senderAssumes !== 0) {
    throw new InvalidArgumentError(`${where}: "senderAssumes" is reserved for calls between services; leave it out`);
  }
  const hasKey = typeof fields.key === 'string' && fields.key.length > 0;
  if (service.meta.instance_type === 'Keyed' && !hasKey) {
    throw new InvalidArgumentError(`${where} is a keyed handler: the request needs a non-empty "key", e.g. {"key": "k1", "request": …}`);
  }
  if (service.meta.instance_type !== 'Keyed' && hasKey) {
    throw new InvalidArgumentError(`${where} is not keyed: leave "key" out and pass the argument as "request"`);
  }
}
